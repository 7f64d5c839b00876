/**
 * A shard from before group commit (schema step 4: a row per held receipt, a
 * row per idempotency key, the log's head in `log_head`) keeps every promise
 * after the upgrade: what it held reaches Postgres, its keys still replay, and
 * its counter and chains go on.
 */
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseCode } from "../../core/code.ts";
import { type ChainRecord, issuedOf } from "../../core/receipt.ts";
import { openPg } from "../../db/client.ts";
import { insertReceipts } from "../../db/receipts.ts";
import { shardConfig } from "../../durable-objects/config.ts";
import type { RingWireEntry } from "../../durable-objects/ring.ts";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import { renderIssued } from "../../workers/ingest/render.ts";
import { shard } from "../../workers/shards.ts";
import {
  call,
  compact,
  eventually,
  fixture,
  type Issued,
  issue,
  sale,
  sqlQuery,
  tamper,
  useShardBand,
} from "./helpers.ts";
import { dropsMessages, oneSale, openShard } from "./shard-ports.ts";

useShardBand(10);

describe("upgrading a shard from before the batch ring", () => {
  it("sends what it held, replays its keys, and continues its counter and chain", async () => {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    const stub = shard(env, n);
    const keys = ["old-0", "old-1", "old-2"];
    // Three receipts issued and never sent, then the storage rewritten into the old layout.
    const issued = await runInDurableObject(stub, async (_: StoreShard, state) => {
      const s = openShard(state.storage, { queue: dropsMessages });
      const out: Issued[] = [];
      for (const key of keys) {
        const [o] = (await s.issue(oneSale(n, f.token, sale(), key))).outcomes;
        if (!o || !("issued" in o)) throw new Error("not issued");
        out.push(renderIssued(o.issued, "https://tillproof.test"));
      }
      const sql = state.storage.sql;
      const rows = sql
        .exec<{
          entries: string;
          log_size: number;
          log_edge: ArrayBuffer;
          log_tail: ArrayBuffer;
          last_received_at: number;
        }>("SELECT entries, log_size, log_edge, log_tail, last_received_at FROM batches ORDER BY batch_no")
        .toArray();
      const who = `${f.tenantId}/${f.storeId}/${f.terminalId}`;
      for (const row of rows) {
        for (const e of JSON.parse(row.entries) as RingWireEntry[]) {
          const r = JSON.parse(e.r) as ChainRecord;
          const at = Date.parse(r.receivedAt);
          sql.exec(
            `INSERT INTO receipts (counter, code, tenant_id, store_id, seq, hash, record, received_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
            e.c,
            r.code,
            r.tenantId,
            r.storeId,
            r.seq,
            e.h,
            e.r,
            at,
          );
          const key = keys[r.seq - 1] ?? "";
          const response = JSON.stringify(renderIssued(issuedOf(r, e.h), "https://tillproof.test"));
          sql.exec(
            "INSERT INTO idempotency (terminal, key, body_hash, response, created_at) VALUES (?, ?, ?, ?, ?)",
            who,
            key,
            e.b ?? "",
            response,
            at,
          );
          sql.exec(
            "UPDATE stores SET seq = ?, head_hash = ?, head_counter = ? WHERE tenant_id = ? AND store_id = ?",
            r.seq,
            e.h,
            e.c,
            r.tenantId,
            r.storeId,
          );
        }
      }
      const head = rows.at(-1);
      if (!head) throw new Error("no batches");
      sql.exec(
        "INSERT INTO log_head (id, size, edge, tail, last_received_at) VALUES (1, ?, ?, ?, ?)",
        head.log_size,
        head.log_edge,
        head.log_tail,
        head.last_received_at,
      );
      sql.exec("DELETE FROM batches");
      sql.exec("DELETE FROM meta WHERE k IN ('marked_batch', 'persisted_batch', 'sent_up_to')");
      return out;
    });
    await evictDurableObject(stub);
    await stub.stats(); // the object loads and carries the old rows over

    for (const r of issued) {
      await eventually(async () => (await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [compact(r.code)]))[0]);
    }
    await runInDurableObject(stub, (_: StoreShard, state) => {
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM receipts").one().n).toBe(0);
    });
    const retry = await issue(f.token, sale(), "old-1");
    expect(retry.status).toBe(200);
    expect(retry.body.code).toBe(issued[1]?.code);
    const next = await issue(f.token, sale());
    expect(next.status).toBe(201);
    expect(next.body.seq).toBe(4);
    expect(next.body.prevHash).toBe(issued[2]?.hash);
    const last = parseCode("test-code-key", issued[2]?.code ?? "")?.counter ?? 0;
    expect(parseCode("test-code-key", next.body.code)?.counter).toBe(last + 1);
    const verified = await call<{ status: string }>("GET", `/v1/verify/${issued[0]?.code}`);
    expect(verified.body.status).toBe("valid");
  });
});

/**
 * A shard of release 49e008b (2026-11-22): schema of two steps, no log, a row
 * per held receipt, and every receipt Postgres confirmed pruned. `persistedUpTo`
 * of its 5 receipts are in Postgres; the rest it still holds.
 */
async function preLogShard(persistedUpTo: number) {
  // A shard no other test here issued on: its counters must start at 1, as the old one's did.
  let f = await fixture();
  while ((await shard(env, Number(f.token.split("_")[1])).stats()).logSize > 0) f = await fixture();
  const n = Number(f.token.split("_")[1]);
  const stub = shard(env, n);
  const issued = await runInDurableObject(stub, async (_: StoreShard, state) => {
    const s = openShard(state.storage, {
      queue: dropsMessages,
      config: { ...shardConfig(env), codeFormat: 1 },
    });
    const out: { receipt: Issued; record: string }[] = [];
    for (let i = 0; i < 5; i++) {
      const [o] = (await s.issue(oneSale(n, f.token, sale(), `pre-log-${i}`))).outcomes;
      if (!o || !("issued" in o)) throw new Error("not issued");
      out.push({
        receipt: renderIssued(o.issued, "https://tillproof.test"),
        record: s.ring.records([i + 1])[0]?.record ?? "",
      });
    }
    const sql = state.storage.sql;
    // What 49e008b kept: no log, no ring; held receipts one row each; the store's head; sent_up_to.
    for (const table of [
      "batches",
      "log_head",
      "log_partial",
      "log_pending",
      "log_checkpoint",
      "idem_runs",
      "idem_pages",
    ])
      sql.exec(`DELETE FROM ${table}`);
    sql.exec("DELETE FROM meta WHERE k IN ('marked_batch', 'persisted_batch', 'sent_up_to', 'code_v2_from')");
    // The old release's hourly sweep left its alarm an hour ahead.
    await state.storage.setAlarm(Date.now() + 3_600_000);
    sql.exec("INSERT INTO meta (k, v) VALUES ('sent_up_to', ?)", persistedUpTo);
    for (const [i, o] of out.entries()) {
      const r = JSON.parse(o.record) as ChainRecord;
      if (i + 1 > persistedUpTo) {
        sql.exec(
          `INSERT INTO receipts (counter, code, tenant_id, store_id, seq, hash, record, received_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          i + 1,
          r.code,
          r.tenantId,
          r.storeId,
          r.seq,
          o.receipt.hash,
          o.record,
          Date.parse(r.receivedAt),
        );
      }
    }
    const last = out.at(-1);
    sql.exec(
      "UPDATE stores SET seq = 5, head_hash = ?, head_counter = 5 WHERE tenant_id = ? AND store_id = ?",
      last?.receipt.hash ?? "",
      f.tenantId,
      f.storeId,
    );
    return out;
  });
  // What Postgres confirmed, as 49e008b's consumer wrote it.
  const pg = openPg({ DATABASE_URL: env.TEST_ADMIN_DATABASE_URL, NEON_WS_PROXY: env.NEON_WS_PROXY });
  await insertReceipts(
    pg.db,
    issued.slice(0, persistedUpTo).map((o, i) => ({ counter: i + 1, hash: o.receipt.hash, record: o.record })),
  );
  await pg.end();
  await evictDurableObject(stub);
  return { f, n, stub, issued: issued.map((o) => o.receipt) };
}

describe("upgrading a shard from before the transparency log (49e008b)", () => {
  it("adopts its history: every old code verifies with a proof, held receipts persist, the chain goes on", async () => {
    const { f, stub, issued } = await preLogShard(3);
    expect(issued.every((r) => compact(r.code).length === 16)).toBe(true);
    const stats = await stub.stats();
    expect(stats.logSize).toBe(5);
    // The adopted tree is signed within CHECKPOINT_MS, not when the old alarm comes (a quiet store sends nothing to wake it).
    const alarm = await runInDurableObject(stub, (_: StoreShard, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm ?? Number.POSITIVE_INFINITY).toBeLessThan(Date.now() + 60_000);
    for (const r of issued) {
      const v = await eventually(async () => {
        const res = await call<{ status: string; persisted: boolean; proof: unknown }>("GET", `/v1/verify/${r.code}`);
        return res.status === 200 && res.body.persisted && res.body.proof ? res : null;
      }, 20_000);
      expect(v.body.status).toBe("valid");
    }
    const next = await issue(f.token, sale());
    expect(next.status).toBe(201);
    expect(next.body.seq).toBe(6);
    expect(next.body.prevHash).toBe(issued[4]?.hash);
    expect(parseCode("test-code-key", next.body.code)?.counter).toBe(6);
  });

  it("refuses to sign a forged history: a row edited in Postgres stops the adoption, and verify says 503, not valid", async () => {
    const { stub, issued } = await preLogShard(3);
    await tamper(issued[1]?.code ?? "", "total = total + 1");
    const failure = (): Promise<string> =>
      stub.stats().then(
        () => "started",
        (e: Error) => e.message,
      );
    expect(await failure()).toMatch(/cannot adopt its history at counter 2/);
    // It stays up and keeps refusing (a restart changes nothing while the history is wrong).
    await evictDurableObject(stub);
    expect(await failure()).toMatch(/its record does not hash to its hash/);
    const v = await call<{ error: { code: string } }>("GET", `/v1/verify/${issued[0]?.code}`);
    expect(v.status).toBe(503);
  });
});
