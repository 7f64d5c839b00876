/**
 * Verify fails closed: "valid" means checked against the signed log. When the
 * shard (and so the log) cannot be read, a record that hashes cleanly gets 503,
 * not "valid"; a record that fails on its own is still "tampered".
 * (Its own file: the test breaks its shard for good.)
 */
import { env, evictDurableObject, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { canonicalHash } from "../../core/canonical.ts";
import { type RecordRow, recordColumns, recordFromRow } from "../../db/receipts.ts";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import { fromHex, leafHash, toHex } from "../../tlog/merkle.ts";
import { tileObjectKey, unpackHashes } from "../../tlog/tiles.ts";
import { shard } from "../../workers/shards.ts";
import { call, compact, eventually, fixture, issuePersisted, sale, sqlQuery, tamper, useShardBand } from "./helpers.ts";

useShardBand(7);

/** A fixture on a shard this file has not broken yet (a store placed on a broken one cannot be created). */
async function freshFixture(): Promise<Awaited<ReturnType<typeof fixture>>> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fixture();
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
}

/** The shard can no longer start (its state claims more than its log holds): every call to it fails. */
async function brick(n: number): Promise<void> {
  const stub = shard(env, n);
  await runInDurableObject(stub, (_: StoreShard, state) => {
    state.storage.sql.exec(
      "INSERT INTO meta (k, v) VALUES ('sent_up_to', 1000000000000) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    );
  });
  await evictDurableObject(stub);
}

describe("verify without its log", () => {
  it("serves full log tiles from R2 even when the shard cannot answer", async () => {
    const f = await freshFixture();
    const n = Number(f.token.split("_")[1]);
    const hashes: string[] = [];
    for (const k of [0, 1, 2]) {
      const res = await call<{ results: { receipt: { hash: string } }[] }>("POST", "/v1/receipts/batch", {
        token: f.token,
        body: { receipts: Array.from({ length: 100 }, (_, i) => ({ idempotencyKey: `t${k}-${i}`, ...sale() })) },
      });
      hashes.push(...res.body.results.map((r) => r.receipt.hash));
    }
    await eventually(() => env.LOG_TILES.get(tileObjectKey(n, 0, 0)));
    await brick(n);
    const res = await SELF.fetch(`https://tillproof.test/v1/log/${n}/tile/0/000`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toContain("immutable");
    const leaves = unpackHashes(new Uint8Array(await res.arrayBuffer())).map(toHex);
    expect(leaves).toEqual(hashes.slice(0, 256).map((h) => toHex(leafHash(fromHex(h)))));
    // What needs the shard (the checkpoint, a partial tile) says so instead.
    expect((await call("GET", `/v1/log/${n}/checkpoint`)).status).toBe(503);
  });

  it("answers 503 rather than 'valid' for a re-hashed record when the log cannot be read", async () => {
    const f = await freshFixture();
    const forged = await issuePersisted(f.token);
    const edited = await issuePersisted(f.token);
    await eventually(async () => (await call<{ proof: unknown }>("GET", `/v1/verify/${edited.code}`)).body.proof);
    const [row] = await sqlQuery<Record<string, unknown>>(`SELECT ${recordColumns()} FROM receipts WHERE code = $1`, [
      compact(forged.code),
    ]);
    const rewritten = { ...recordFromRow(row as RecordRow), total: 1 };
    await tamper(forged.code, `total = 1, hash = '${canonicalHash(rewritten)}'`);
    await tamper(edited.code, "total = 2");
    expect((await call<{ status: string }>("GET", `/v1/verify/${forged.code}`)).body.status).toBe("tampered");

    await brick(Number(f.token.split("_")[1]));

    const blind = await call<{ error: { code: string } }>("GET", `/v1/verify/${forged.code}`);
    expect(blind.status).toBe(503);
    expect(blind.headers.get("retry-after")).toBeTruthy();
    expect(blind.body.error.code).toBe("unavailable");
    // A record that no longer matches its own hash needs no log to be judged.
    expect((await call<{ status: string }>("GET", `/v1/verify/${edited.code}`)).body.status).toBe("tampered");
  });
});
