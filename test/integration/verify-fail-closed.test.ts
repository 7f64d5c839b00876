/**
 * Verify fails closed: "valid" means checked against the signed log. When the
 * shard (and so the log) cannot be read, a record that hashes cleanly gets 503,
 * not "valid"; a record that fails on its own is still "tampered".
 * (Its own file: the test breaks its shard for good.)
 */
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { canonicalHash } from "../../core/canonical.ts";
import { type RecordRow, recordColumns, recordFromRow } from "../../db/receipts.ts";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import { shard } from "../../workers/shards.ts";
import { call, compact, eventually, fixture, issuePersisted, sqlQuery, tamper, useShardBand } from "./helpers.ts";

useShardBand(7);

describe("verify without its log", () => {
  it("answers 503 rather than 'valid' for a re-hashed record when the log cannot be read", async () => {
    const f = await fixture();
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

    // The shard can no longer start (its state claims more than its log holds): every call to it fails.
    const stub = shard(env, Number(f.token.split("_")[1]));
    await runInDurableObject(stub, (_: StoreShard, state) => {
      state.storage.sql.exec("UPDATE meta SET v = 1000000000000 WHERE k = 'sent_up_to'");
      state.storage.sql.exec("INSERT INTO meta (k, v) VALUES ('sent_up_to', 1000000000000) ON CONFLICT DO NOTHING");
    });
    await evictDurableObject(stub);

    const blind = await call<{ error: { code: string } }>("GET", `/v1/verify/${forged.code}`);
    expect(blind.status).toBe(503);
    expect(blind.headers.get("retry-after")).toBeTruthy();
    expect(blind.body.error.code).toBe("unavailable");
    // A record that no longer matches its own hash needs no log to be judged.
    expect((await call<{ status: string }>("GET", `/v1/verify/${edited.code}`)).body.status).toBe("tampered");
  });
});
