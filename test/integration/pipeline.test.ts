/** Outbox → queue → Postgres: at-least-once delivery, exactly-once rows, nothing lost. */
import {
  createExecutionContext,
  createMessageBatch,
  env,
  evictDurableObject,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { canonicalHash } from "../../core/canonical.ts";
import { encodeCode, parseCode } from "../../core/code.ts";
import type { OutboxMessage } from "../../core/outbox.ts";
import { GENESIS_HASH } from "../../core/receipt.ts";
import { openPg } from "../../db/client.ts";
import { type RecordRow, recordColumns, recordFromRow } from "../../db/receipts.ts";
import { shardConfig } from "../../durable-objects/config.ts";
import type { ShardDeps } from "../../durable-objects/ports.ts";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import worker from "../../workers/index.ts";
import { shard } from "../../workers/shards.ts";
import { insiderSql } from "../insider.ts";
import {
  call,
  compact,
  eventually,
  fixture,
  type Issued,
  issue,
  issuePersisted,
  OPERATOR_TOKEN,
  sale,
  sqlQuery,
  syntheticMessage,
  tamper,
  uid,
  useShardBand,
} from "./helpers.ts";
import { deliversThenThrows, dropsMessages, oneSale, openShard, storageOf, syncFails } from "./shard-ports.ts";

useShardBand(2);

async function consume(messages: OutboxMessage[], overrides: Partial<typeof env> = {}, attempts = 1) {
  const batch = createMessageBatch<OutboxMessage>(
    "tillproof-receipts",
    messages.map((body, i) => ({ id: `m${i}-${crypto.randomUUID()}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...overrides }, ctx);
  return getQueueResult(batch, ctx);
}

const countRows = async (tenantId: string) =>
  Number((await sqlQuery<{ n: string }>("SELECT count(*) AS n FROM receipts WHERE tenant_id = $1", [tenantId]))[0]?.n);

describe("queue consumer", () => {
  it("inserts a redelivered batch only once and acks it both times", async () => {
    const tenantId = uid("redeliver");
    const message = syntheticMessage(tenantId, 30, 500_000);
    const first = await consume([message]);
    const second = await consume([message, message]);
    expect(first.explicitAcks).toHaveLength(1);
    expect(second.explicitAcks).toHaveLength(2);
    expect(await countRows(tenantId)).toBe(30);
  });

  it("loses nothing when Postgres is down: retries with backoff, then persists once it is back", async () => {
    const tenantId = uid("outage");
    const message = syntheticMessage(tenantId, 10, 600_000);
    // An address the local tunnel refuses to reach stands in for an outage.
    const down = await consume([message], { DATABASE_URL: "postgres://postgres@127.0.0.1:1/unreachable" });
    expect(down.explicitAcks).toEqual([]);
    expect(down.retryMessages).toHaveLength(1);
    expect(await countRows(tenantId)).toBe(0);

    const back = await consume([message]);
    expect(back.explicitAcks).toHaveLength(1);
    expect(await countRows(tenantId)).toBe(10);
  });
});

describe("the routing table (DATABASE_URLS)", () => {
  const routes = (bShards: string, aShards: string) =>
    JSON.stringify([
      {
        since: "2000-01-01",
        databases: [
          { name: "primary", shards: aShards, url: env.DATABASE_URL },
          // An address the local tunnel refuses: a receipts database that is down.
          { name: "b", shards: bShards, url: "postgres://postgres@127.0.0.1:1/unreachable" },
        ],
      },
    ]);

  it("routes each shard's receipts to its database: one down retries only its own messages", async () => {
    const tenantId = uid("routed");
    const onPrimary = syntheticMessage(tenantId, 3, 1_000_000, 3);
    const onB = syntheticMessage(tenantId, 2, 1_000_000, 4);
    const result = await consume([onPrimary, onB], { DATABASE_URLS: routes("4-1023", "0-3") });
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toHaveLength(1);
    expect(await countRows(tenantId)).toBe(3);
  });

  it("a re-split takes new days only: a layout from tomorrow leaves today's receipts where today's layout puts them", async () => {
    const tenantId = uid("resplit");
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const table = JSON.stringify([
      { since: "2000-01-01", databases: [{ name: "primary", shards: "0-1023", url: env.DATABASE_URL }] },
      {
        since: tomorrow,
        databases: [
          { name: "primary", shards: "0-3", url: env.DATABASE_URL },
          { name: "b", shards: "4-1023", url: "postgres://postgres@127.0.0.1:1/unreachable" },
        ],
      },
    ]);
    const result = await consume([syntheticMessage(tenantId, 2, 1_200_000, 4)], { DATABASE_URLS: table });
    expect(result.explicitAcks).toHaveLength(1);
    expect(await countRows(tenantId)).toBe(2);
  });

  it("verify finds a receipt in an older layout's database while the newest layout's is down", async () => {
    const f = await fixture();
    const issued = await issuePersisted(f.token);
    const shardNo = parseCode("test-code-key", issued.code)?.shard ?? -1;
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const others = shardNo === 0 ? "1-1023" : shardNo === 1023 ? "0-1022" : `0-${shardNo - 1},${shardNo + 1}-1023`;
    // Today the primary holds every shard; from tomorrow this receipt's shard moves to a database that is down.
    const table = JSON.stringify([
      { since: "2000-01-01", databases: [{ name: "primary", shards: "0-1023", url: env.DATABASE_URL }] },
      {
        since: tomorrow,
        databases: [
          { name: "primary", shards: others, url: env.DATABASE_URL },
          { name: "b", shards: String(shardNo), url: "postgres://postgres@127.0.0.1:1/unreachable" },
        ],
      },
    ]);
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`https://tillproof.test/v1/verify/${issued.code}`),
      { ...env, DATABASE_URLS: table },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "valid", persisted: true });
  });

  it("a routing table that cannot be read retries the whole batch and writes nowhere", async () => {
    const tenantId = uid("unroutable");
    const message = syntheticMessage(tenantId, 3, 1_100_000, 3);
    for (const bad of ["{", routes("4-1022", "0-3")]) {
      const result = await consume([message], { DATABASE_URLS: bad });
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toHaveLength(1);
    }
    expect(await countRows(tenantId)).toBe(0);
  });

  it("verify answers 503 misconfigured on an unreadable table (the receipt page its 503 page), and /healthz names what is wrong", async () => {
    const bad = { ...env, DATABASE_URLS: routes("4-1022", "0-3") };
    const code = encodeCode("test-code-key", { shard: 3, counter: 1 });
    const ctx = createExecutionContext();
    const verify = await worker.fetch(new Request(`https://tillproof.test/v1/verify/${code}`), bad, ctx);
    expect(verify.status).toBe(503);
    expect(((await verify.json()) as { error: { code: string } }).error.code).toBe("misconfigured");
    const page = await worker.fetch(new Request(`https://tillproof.test/r/${code}`), bad, ctx);
    expect(page.status).toBe(503);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    // The operator's status goes on over the primary, and says what is wrong.
    const status = await worker.fetch(
      new Request("https://tillproof.test/v1/ops/status", { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } }),
      bad,
      ctx,
    );
    expect(status.status).toBe(200);
    const s = (await status.json()) as { routing: string; alerts: string[] };
    expect(s.routing).toMatch(/shard 1023 has no database/);
    expect(s.alerts.some((a) => a.includes("no receipt reaches Postgres"))).toBe(true);
    const health = await worker.fetch(new Request("https://tillproof.test/healthz"), bad, ctx);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { checks: { databases: string } }).checks.databases).toMatch(
      /shard 1023 has no database/,
    );
    await waitOnExecutionContext(ctx);
  });
});

describe("a record Postgres refuses", () => {
  const quarantined = async (tenantId: string) =>
    sqlQuery<{ sqlstate: string; record: string }>(
      "SELECT q.sqlstate, q.record FROM quarantined_receipts q WHERE q.record LIKE '%' || $1 || '%'",
      [tenantId],
    );

  it("is retried once, then quarantined with its reason; the rest of the batch is persisted and acked", async () => {
    const tenantId = uid("poison");
    const good = syntheticMessage(tenantId, 5, 700_000);
    const bad = syntheticMessage(tenantId, 1, 800_000);
    const [entry] = bad.receipts;
    if (!entry?.record) throw new Error("no record");
    // A NUL in text passes JSON but not Postgres (validation refuses it at ingest; this is defence in depth).
    const poison = entry.record.replace('"currency":"EUR"', '"cashier":"A\\u0000","currency":"EUR"');
    bad.receipts = [{ ...entry, record: poison }];
    // A first refusal may be a passing race: the message is retried, nothing quarantined yet.
    const first = await consume([good, bad]);
    expect(first.explicitAcks).toHaveLength(1);
    expect(first.retryMessages).toHaveLength(1);
    expect(await quarantined(tenantId)).toEqual([]);
    const result = await consume([bad], {}, 2);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect(await countRows(tenantId)).toBe(5);
    const [q] = await quarantined(tenantId);
    expect(q?.sqlstate).toBe("22P05");
    // Kept exactly as the shard hashed it.
    expect(q?.record).toBe(poison);
    // A redelivery quarantines nothing twice.
    await consume([bad], {}, 3);
    expect(await quarantined(tenantId)).toHaveLength(1);

    // Within one message too: the others land, the message is acked.
    const mixedTenant = uid("poison-mixed");
    const mixed = syntheticMessage(mixedTenant, 4, 900_000);
    const [, second] = mixed.receipts;
    if (!second?.record) throw new Error("no record");
    mixed.receipts[1] = {
      ...second,
      record: second.record.replace('"currency":"EUR"', '"cashier":"B\\u0000","currency":"EUR"'),
    };
    const partial = await consume([mixed], {}, 2);
    expect(partial.explicitAcks).toHaveLength(1);
    expect(partial.retryMessages).toEqual([]);
    expect(await countRows(mixedTenant)).toBe(3);
    expect(await quarantined(mixedTenant)).toHaveLength(1);
  });
});

describe("a quarantine row an insider wrote first", () => {
  it("does not stand in for the refused receipt: its message is retried, and the shard keeps it", async () => {
    const tenantId = uid("pre-quarantined");
    const bad = syntheticMessage(tenantId, 1, 950_000);
    const [entry] = bad.receipts;
    if (!entry?.record) throw new Error("no record");
    bad.receipts = [
      { ...entry, record: entry.record.replace('"currency":"EUR"', '"cashier":"C\\u0000","currency":"EUR"') },
    ];
    await sqlQuery(
      `INSERT INTO quarantined_receipts (shard, counter, code, hash, record, reason)
       VALUES ($1, $2, 'X', $3, '{}', 'planted')`,
      [bad.shard, entry.counter, "0".repeat(64)],
    );
    const result = await consume([bad], {}, 2);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
  });
});

describe("the shard's outbox", () => {
  it("carries a receipt too large for a queue message by reference, all the way to Postgres", async () => {
    const f = await fixture();
    const items = Array.from({ length: 500 }, (_, i) => ({
      name: `Item ${i} ${"x".repeat(180)}`,
      sku: `SKU-${i}`,
      quantity: 1,
      unitPrice: 100,
      total: 100,
    }));
    const big = sale({ items, total: 50_000, payments: [{ method: "card", amount: 50_000 }] });
    expect(JSON.stringify(big).length).toBeGreaterThan(100_000);
    const { status, body } = await issue(f.token, big);
    expect(status).toBe(201);
    const [row] = await eventually(async () => {
      const rows = await sqlQuery<{ n: number }>(
        "SELECT jsonb_array_length(items) AS n FROM receipts WHERE code = $1",
        [compact(body.code)],
      );
      return rows.length ? rows : null;
    });
    expect(row?.n).toBe(500);
    expect((await call<{ status: string }>("GET", `/v1/verify/${body.code}`)).body.status).toBe("valid");
  });

  it("holds a receipt in its ring until Postgres confirms it", async () => {
    const f = await fixture();
    const { body } = await issue(f.token, sale());
    const n = Number(f.token.split("_")[1]);
    const stub = shard(env, n);
    const counter = parseCode("test-code-key", body.code)?.counter ?? 0;
    const held = await stub.view(counter);
    expect(held.held?.hash).toBe(body.hash);
    await eventually(async () => (await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [compact(body.code)]))[0]);
    await eventually(async () => ((await stub.stats()).unpersisted === 0 ? true : null));
    // A restarted shard continues its counter and its store's chain: codes are never reused.
    await evictDurableObject(stub);
    const next = await issue(f.token, sale());
    expect(next.body.seq).toBe(2);
    expect(next.body.prevHash).toBe(body.hash);
    expect(parseCode("test-code-key", next.body.code)?.counter).toBe(counter + 1);
  });

  it("sends again, after an hour, a receipt whose queue message was lost", async () => {
    const f = await fixture();
    await issuePersisted(f.token);
    const n = Number(f.token.split("_")[1]);
    const stub = shard(env, n);
    // The queue says yes and loses the message; then an hour passes.
    const code = await runInDurableObject(stub, async (_: StoreShard, state) => {
      const lossy = openShard(state.storage, { queue: dropsMessages });
      const [outcome] = (await lossy.issue(oneSale(n, f.token, sale()))).outcomes;
      await lossy.pump.flush(n, lossy.log.size);
      const sent = lossy.pump.sentUpTo;
      for (const [k, v] of [
        ["redrive_horizon", sent],
        ["checkpoint", sent],
        ["checkpoint_at", Date.now()],
      ] as const) {
        lossy.tables.setMeta(k, v);
      }
      return outcome && "issued" in outcome ? compact(outcome.issued.code) : "";
    });
    await evictDurableObject(stub); // reload state from storage, as after a deploy
    expect((await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [code])).length).toBe(0);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const [row] = await eventually(async () => {
      const rows = await sqlQuery<{ seq: string }>("SELECT seq FROM receipts WHERE code = $1", [code]);
      return rows.length ? rows : null;
    });
    expect(row?.seq).toBe("2");
    await eventually(async () => ((await stub.stats()).unpersisted === 0 ? true : null));
  });

  it("backs off after a failed send even when the alarm runs sooner for a checkpoint", async () => {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    let attempts = 0;
    const failing: ShardDeps["queue"] = {
      sendBatch: async () => {
        attempts++;
        throw new Error("queue unavailable");
      },
    };
    await runInDurableObject(shard(env, n), async (_: StoreShard, state) => {
      const s = openShard(state.storage, { queue: failing });
      await s.issue(oneSale(n, f.token, sale()));
      const now = Date.now();
      await s.pump.run(n, s.log.size, now);
      expect(attempts).toBe(1);
      await s.pump.run(n, s.log.size, now + 50); // e.g. a checkpoint 50 ms later
      expect(attempts).toBe(1);
      await s.pump.run(n, s.log.size, now + 1_000);
      expect(attempts).toBe(2);
      expect(s.pump.nextAt(now + 1_000, s.log.size)).toBeGreaterThanOrEqual(now + 1_400);
    });
    await evictDurableObject(shard(env, n));
  });

  it("never issues a code twice when a send delivered but reported failure, even across a restart", async () => {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    const stub = shard(env, n);
    // The queue accepts the batch but the reply is lost: sendBatch throws after delivering.
    const first = await runInDurableObject(stub, async (_: StoreShard, state) => {
      const flaky = openShard(state.storage, { queue: deliversThenThrows });
      const [outcome] = (await flaky.issue(oneSale(n, f.token, sale()))).outcomes;
      await expect(flaky.pump.flush(n, flaky.log.size)).rejects.toThrow(/reply lost/);
      return outcome && "issued" in outcome ? outcome.issued : null;
    });
    if (!first) throw new Error("not issued");
    await evictDurableObject(stub); // restart: the flaky queue is gone, the storage stays
    await eventually(async () => (await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [compact(first.code)]))[0]);
    await evictDurableObject(stub);
    const second = await issue(f.token, sale());
    expect(second.status).toBe(201);
    expect(second.body.code).not.toBe(first.code);
    expect(second.body.seq).toBe(2);
  });

  it("answers a retry of a 20-hour-old key after a restart with the identical body, and forgets it after 25 hours", async () => {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    const stub = shard(env, n);
    const first = await issue(f.token, sale(), "day-old-key");
    expect(first.status).toBe(201);
    await eventually(
      async () => (await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [compact(first.body.code)]))[0],
    );
    await eventually(async () => ((await stub.stats()).unpersisted === 0 ? true : null));
    // The confirmation is stored lazily (at most every 2 s): wait until a restart would find it.
    await eventually(() =>
      runInDurableObject(stub, (_: StoreShard, state) => {
        const sql = state.storage.sql;
        const stored = sql.exec<{ v: number }>("SELECT v FROM meta WHERE k = 'persisted_batch'").toArray()[0]?.v ?? 0;
        return stored >= (sql.exec<{ n: number }>("SELECT max(batch_no) AS n FROM batches").one().n ?? 0) ? true : null;
      }),
    );
    // The key is written out to a run and the receipt leaves the ring (Postgres has it); then 20 hours pass.
    await runInDurableObject(stub, (_: StoreShard, state) => {
      openShard(state.storage).mark(Date.now());
      state.storage.sql.exec("UPDATE idem_runs SET created_at = created_at - 20 * 3600 * 1000");
    });
    await evictDurableObject(stub);
    const counter = parseCode("test-code-key", first.body.code)?.counter ?? 0;
    expect((await stub.view(counter)).held).toBeNull(); // not in the ring: the replay comes from Postgres
    const retry = await issue(f.token, sale(), "day-old-key");
    expect(retry.status).toBe(200);
    expect(retry.text).toBe(first.text);
    const otherBody = sale({ payments: [{ method: "cash", amount: 680 }] });
    expect((await issue(f.token, otherBody, "day-old-key")).status).toBe(409);

    // Six hours later (26 in all) the key is forgotten: the sweep drops its run, and the key is new again.
    await runInDurableObject(stub, (_: StoreShard, state) => {
      state.storage.sql.exec("UPDATE idem_runs SET created_at = created_at - 6 * 3600 * 1000");
    });
    await evictDurableObject(stub);
    await runDurableObjectAlarm(stub);
    await runInDurableObject(stub, (_: StoreShard, state) => {
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM idem_pages").one().n).toBe(0);
    });
    const later = await issue(f.token, sale(), "day-old-key");
    expect(later.status).toBe(201);
    expect(later.body.code).not.toBe(first.body.code);
  });

  it("replays a key from the ring after a restart, before Postgres has the receipt", async () => {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    const stub = shard(env, n);
    const code = await runInDurableObject(stub, async (_: StoreShard, state) => {
      const lossy = openShard(state.storage, { queue: dropsMessages });
      const [o] = (await lossy.issue(oneSale(n, f.token, sale(), "ring-key"))).outcomes;
      await lossy.pump.flush(n, lossy.log.size);
      return o && "issued" in o ? o.issued.code : "";
    });
    await evictDurableObject(stub);
    const retry = await issue(f.token, sale(), "ring-key");
    expect(retry.status).toBe(200);
    expect(compact(retry.body.code)).toBe(code);
    expect((await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [compact(code)])).length).toBe(0);
  });

  it("loses nothing and reissues nothing when a restart comes mid-commit", async () => {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    const stub = shard(env, n);
    const before = await issue(f.token, sale());
    const counter = parseCode("test-code-key", before.body.code)?.counter ?? 0;
    // The commit is written, then confirming it fails and the object restarts: the terminal heard an error.
    await runInDurableObject(stub, async (_: StoreShard, state) => {
      const crashing = openShard(state.storage, { storage: syncFails(state.storage) });
      await expect(crashing.issue(oneSale(n, f.token, sale(), "mid-commit"))).rejects.toThrow(/sync failed/);
    });
    await evictDurableObject(stub);
    // Its retry gets the receipt that was written (not a second code), and it reaches Postgres.
    const retry = await issue(f.token, sale(), "mid-commit");
    expect(retry.status).toBe(200);
    expect(parseCode("test-code-key", retry.body.code)?.counter).toBe(counter + 1);
    expect(retry.body.seq).toBe(2);
    expect(retry.body.prevHash).toBe(before.body.hash);
    await eventually(
      async () => (await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [compact(retry.body.code)]))[0],
    );
    const next = await issue(f.token, sale());
    expect(parseCode("test-code-key", next.body.code)?.counter).toBe(counter + 2);
    expect(next.body.seq).toBe(3);
  });

  it("keeps 10,000 concurrent receipts across 40 stores gapless, in the shard and in Postgres", async () => {
    const stores = await Promise.all(Array.from({ length: 40 }, () => fixture()));
    const perStore = 250;
    const requests = stores.flatMap((f) =>
      [100, 100, 50].map((size, r) => ({
        f,
        body: {
          receipts: Array.from({ length: size }, (_, i) => ({ idempotencyKey: `g${r}-${i}`, ...sale() })),
        },
      })),
    );
    const replies = await Promise.all(
      requests.map((q) =>
        call<{ results: { status: number; receipt: Issued }[] }>("POST", "/v1/receipts/batch", {
          token: q.f.token,
          body: q.body,
        }),
      ),
    );
    const issued = replies.flatMap((r) => r.body.results);
    expect(issued.filter((r) => r.status === 201)).toHaveLength(stores.length * perStore);
    expect(new Set(issued.map((r) => r.receipt.code)).size).toBe(issued.length);
    // Per store: seq 1..250, each linked to the one before.
    for (const f of stores) {
      const mine = issued.map((r) => r.receipt).filter((r) => r.tenantId === f.tenantId);
      mine.sort((a, b) => a.seq - b.seq);
      expect(mine.map((r) => r.seq)).toEqual(Array.from({ length: perStore }, (_, i) => i + 1));
      expect(mine.map((r) => r.prevHash)).toEqual([GENESIS_HASH, ...mine.slice(0, -1).map((r) => r.hash)]);
    }
    // Per shard: the counters this test was given are one unbroken run.
    const byShard = new Map<number, number[]>();
    for (const r of issued) {
      const p = parseCode("test-code-key", r.receipt.code);
      if (p) byShard.set(p.shard, [...(byShard.get(p.shard) ?? []), p.counter]);
    }
    for (const counters of byShard.values()) {
      counters.sort((a, b) => a - b);
      expect((counters.at(-1) ?? 0) - (counters[0] ?? 0) + 1).toBe(counters.length);
    }
    // And Postgres holds all of them, gapless per store.
    const tenants = stores.map((f) => f.tenantId);
    const rows = await eventually(async () => {
      const r = await sqlQuery<{ tenant_id: string; n: string; lo: string; hi: string }>(
        `SELECT tenant_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM receipts
          WHERE tenant_id = ANY($1) GROUP BY tenant_id`,
        [tenants],
      );
      return r.reduce((t, x) => t + Number(x.n), 0) === stores.length * perStore ? r : null;
    }, 60_000);
    for (const r of rows) expect([Number(r.n), Number(r.lo), Number(r.hi)]).toEqual([perStore, 1, perStore]);
  }, 120_000);

  it("reports issued, enqueued and persisted per shard", async () => {
    const f = await fixture();
    await Promise.all(Array.from({ length: 5 }, () => issue(f.token, sale())));
    const n = Number(f.token.split("_")[1]);
    const report = await eventually(async () => {
      const r = await call<{
        shards: {
          shard: number;
          issued: number;
          persisted: number;
          enqueued: number;
          oldestUnpersistedAgeMs: number | null;
        }[];
      }>("GET", "/v1/ops/pipeline", { token: OPERATOR_TOKEN });
      const mine = r.body.shards.find((s) => s.shard === n);
      return mine && mine.persisted === mine.issued ? mine : null;
    });
    expect(report.issued).toBeGreaterThanOrEqual(5);
    expect(report.enqueued).toBe(report.issued);
    expect(report.oldestUnpersistedAgeMs).toBeNull();
    expect((await call("GET", "/v1/ops/pipeline")).status).toBe(401);
  });
});

describe("tamper evidence", () => {
  it("says tampered when a store's latest receipt is rewritten together with its hash", async () => {
    const f = await fixture();
    const latest = await issuePersisted(f.token);
    const [row] = await sqlQuery<Record<string, unknown>>(`SELECT ${recordColumns()} FROM receipts WHERE code = $1`, [
      compact(latest.code),
    ]);
    const forged = { ...recordFromRow(row as RecordRow), total: 1 };
    await tamper(latest.code, `total = 1, hash = '${canonicalHash(forged)}'`);
    // The row hashes cleanly now; only the signed log knows better.
    const res = await call<{ status: string; total: number }>("GET", `/v1/verify/${latest.code}`);
    expect(res.body.total).toBe(1);
    expect(res.body.status).toBe("tampered");
  });

  it("refuses UPDATE and DELETE on receipts", async () => {
    const f = await fixture();
    const r = await issuePersisted(f.token);
    await expect(sqlQuery("UPDATE receipts SET total = 1 WHERE code = $1", [compact(r.code)])).rejects.toThrow(
      /append-only/,
    );
    await expect(sqlQuery("DELETE FROM receipts WHERE code = $1", [compact(r.code)])).rejects.toThrow(/append-only/);
  });

  it("creates each day's partition on its own, moving that day's rows out of DEFAULT first", async () => {
    const f = await fixture();
    const r = await issuePersisted(f.token);
    const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
    // A row dated 11 days ahead lands in DEFAULT (no partition yet); before, it made every later creation fail.
    await sqlQuery(
      `INSERT INTO receipts (code, received_at, tenant_id, store_id, terminal_id, seq, issued_at, currency, total,
                             items, payments, hash, prev_hash)
       SELECT 'FUTURE' || substr(code, 7), $2::date + time '12:00', tenant_id, store_id, terminal_id, seq + 100000, issued_at,
              currency, total, items, payments, hash, prev_hash FROM receipts WHERE code = $1`,
      [compact(r.code), day(11)],
    );
    const [before] = await sqlQuery<{ part: string }>(
      "SELECT tableoid::regclass::text AS part FROM receipts WHERE code LIKE 'FUTURE%'",
    );
    expect(before?.part).toBe("receipts_default");
    // The cron as the Worker runs it.
    const ctx = createExecutionContext();
    await worker.scheduled({} as ScheduledController, env, ctx);
    await waitOnExecutionContext(ctx);
    const outcomes = await sqlQuery<{ day: string; outcome: string }>(
      "SELECT day::text AS day, outcome FROM tillproof_ensure_receipt_partitions(12)",
    );
    expect(outcomes.find((o) => o.day === day(11))?.outcome).toBe("created, 1 rows moved out of DEFAULT");
    expect(outcomes.find((o) => o.day === day(12))?.outcome).toBe("created");
    const [after] = await sqlQuery<{ part: string }>(
      "SELECT tableoid::regclass::text AS part FROM receipts WHERE code LIKE 'FUTURE%'",
    );
    expect(after?.part).toBe(`receipts_${day(11).replaceAll("-", "")}`);
    await sqlQuery(insiderSql("DELETE FROM receipts WHERE code LIKE 'FUTURE%'"));
  });

  it("lets the Worker's own role only INSERT and SELECT receipts: no UPDATE, DELETE, TRUNCATE or trigger switch", async () => {
    const f = await fixture();
    const r = await issuePersisted(f.token);
    const asWorker = async (text: string) => {
      const pg = openPg(env);
      try {
        return (await pg.pool.query(text)).rows as Record<string, unknown>[];
      } finally {
        await pg.end();
      }
    };
    expect((await asWorker("SELECT current_user AS u"))[0]?.u).toBe("tillproof_app");
    expect(await asWorker(`SELECT 1 AS one FROM receipts WHERE code = '${compact(r.code)}'`)).toHaveLength(1);
    const day = `receipts_${new Date().toISOString().slice(0, 10).replaceAll("-", "")}`;
    for (const statement of [
      `UPDATE receipts SET total = 1 WHERE code = '${compact(r.code)}'`,
      `DELETE FROM receipts WHERE code = '${compact(r.code)}'`,
      "TRUNCATE receipts",
      `TRUNCATE ${day}`,
      "ALTER TABLE receipts DISABLE TRIGGER receipts_append_only",
      `ALTER TABLE ${day} DISABLE TRIGGER receipts_no_truncate`,
      "DROP TABLE receipts_default",
    ]) {
      await expect(asWorker(statement), statement).rejects.toThrow(/permission denied|must be (the )?owner/);
    }
    expect(await asWorker(`SELECT 1 AS one FROM receipts WHERE code = '${compact(r.code)}'`)).toHaveLength(1);
    // Nor tenants or stores deleted, nor objects of its own next to the tables.
    for (const statement of [
      `DELETE FROM stores WHERE tenant_id = '${f.tenantId}'`,
      `DELETE FROM tenants WHERE id = '${f.tenantId}'`,
      "CREATE TABLE public.tillproof_moving (x int)",
    ]) {
      await expect(asWorker(statement), statement).rejects.toThrow(/permission denied/);
    }
    // The cron it may run is bounded: asking for a year creates at most a month ahead.
    const made = await asWorker("SELECT * FROM tillproof_ensure_receipt_partitions(365)");
    expect(made.length).toBeLessThanOrEqual(32);
  });

  it("refuses, in Postgres itself, a second receipt with a code or a (tenant, store, seq) it holds", async () => {
    const f = await fixture();
    const r = await issuePersisted(f.token);
    const asWorker = async (text: string, params: unknown[]) => {
      const pg = openPg(env);
      try {
        return (await pg.pool.query(text, params)).rowCount;
      } finally {
        await pg.end();
      }
    };
    // As the consumer inserts: ON CONFLICT DO NOTHING, which a duplicate code or seq must not slip through.
    const copy = (code: string, at: string, seq: string) =>
      asWorker(
        `INSERT INTO receipts (code, received_at, tenant_id, store_id, terminal_id, seq, issued_at, currency, total,
                               items, payments, hash, prev_hash)
         SELECT ${code}, ${at}, tenant_id, store_id, terminal_id, ${seq}, issued_at, currency, total, items, payments,
                hash, prev_hash FROM receipts WHERE code = $1
         ON CONFLICT DO NOTHING`,
        [compact(r.code)],
      );
    // The same code again at another time (a reset shard reissuing it), or another code for the same seq.
    await expect(copy("code", "received_at + interval '1 second'", "seq + 1"), "same code").rejects.toThrow(
      /would duplicate/,
    );
    await expect(copy("'ZZZZ' || substr(code, 5)", "received_at", "seq"), "same seq").rejects.toThrow(
      /would duplicate/,
    );
    // The very same receipt again (a redelivery) is not an error: it is simply not stored twice.
    expect(await copy("code", "received_at", "seq")).toBe(0);
    const [n] = await sqlQuery<{ n: string }>("SELECT count(*) AS n FROM receipts WHERE code = $1", [compact(r.code)]);
    expect(n?.n).toBe("1");
  });

  it("fires its guards ALWAYS (replica mode does not bypass them) and refuses TRUNCATE on every partition", async () => {
    const f = await fixture();
    const r = await issuePersisted(f.token);
    await expect(
      sqlQuery(`DO $$ BEGIN SET LOCAL session_replication_role = replica;
                  DELETE FROM receipts WHERE code = '${compact(r.code)}'; END $$`),
    ).rejects.toThrow(/append-only/);
    const partitions = await sqlQuery<{ name: string }>(
      "SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'receipts'::regclass",
    );
    expect(partitions.length).toBeGreaterThanOrEqual(8); // today, a week ahead, and DEFAULT
    for (const { name } of partitions) {
      await expect(sqlQuery(`TRUNCATE ${name}`), name).rejects.toThrow(/append-only/);
      await expect(
        sqlQuery(`DO $$ BEGIN SET LOCAL session_replication_role = replica; TRUNCATE ${name}; END $$`),
      ).rejects.toThrow(/append-only/);
    }
    // A partition the cron creates later gets the same guard.
    await sqlQuery("SELECT * FROM tillproof_ensure_receipt_partitions(9)");
    const late = `receipts_${new Date(Date.now() + 9 * 86_400_000).toISOString().slice(0, 10).replaceAll("-", "")}`;
    expect((await sqlQuery<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [late]))[0]?.t).toBe(late);
    await expect(sqlQuery(`TRUNCATE ${late}`)).rejects.toThrow(/append-only/);
    expect((await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [compact(r.code)])).length).toBe(1);
  });

  it("says tampered when a superuser edits a row with triggers off, and for the next receipt's broken link", async () => {
    const f = await fixture();
    const first = await issuePersisted(f.token);
    const second = await issuePersisted(f.token);
    await tamper(first.code, "total = total + 100");
    const edited = await call<{ status: string }>("GET", `/v1/verify/${first.code}`);
    expect(edited.body.status).toBe("tampered");
    expect((await call<{ status: string }>("GET", `/v1/verify/${second.code}`)).body.status).toBe("valid");

    // Rewriting the hash too: the log's leaf and the next receipt's prevHash both disagree.
    await tamper(first.code, `hash = '${"f".repeat(64)}'`);
    expect((await call<{ status: string }>("GET", `/v1/verify/${first.code}`)).body.status).toBe("tampered");
    expect((await call<{ status: string }>("GET", `/v1/verify/${second.code}`)).body.status).toBe("tampered");
  });
});

describe("after a restart", () => {
  it("sends again at once what was sent but never confirmed, instead of holding it for the hourly redrive", async () => {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    const stub = shard(env, n);
    // Sent (the watermark moves) but lost by the queue; then the object restarts.
    const code = await runInDurableObject(stub, async (_: StoreShard, state) => {
      const lossy = openShard(state.storage, { queue: dropsMessages });
      const [o] = (await lossy.issue(oneSale(n, f.token, sale()))).outcomes;
      await lossy.pump.flush(n, lossy.log.size);
      lossy.pump.storeWatermark(Date.now());
      return o && "issued" in o ? compact(o.issued.code) : "";
    });
    await evictDurableObject(stub);
    await stub.stats(); // the real object loads
    await eventually(async () => (await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [code]))[0]);
    await eventually(async () => ((await stub.stats()).unpersisted === 0 ? true : null));
  });

  it("pauses the redrive while Postgres confirms nothing: one probe, and the rest only after a confirmation", async () => {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    const stub = shard(env, n);
    const sent: number[] = [];
    const recording: ShardDeps["queue"] = {
      sendBatch: async (batch: Iterable<MessageSendRequest<OutboxMessage>>) => {
        for (const m of batch) sent.push(...m.body.receipts.map((r) => r.counter));
      },
    };
    await runInDurableObject(stub, async (_: StoreShard, state) => {
      // 250 receipts sent to a queue that loses them (Postgres never confirms); then a restart.
      const lossy = openShard(state.storage, { queue: dropsMessages });
      for (let i = 0; i < 5; i++) {
        const entries = Array.from({ length: 50 }, () => oneSale(n, f.token, sale()).entries).flat();
        await lossy.issue({ ...oneSale(n, f.token, sale()), entries });
      }
      await lossy.pump.flush(n, lossy.log.size);
      lossy.pump.storeWatermark(Date.now());
      const restarted = openShard(state.storage, { queue: recording });
      const now = Date.now();
      await restarted.pump.redrive(n, now);
      expect(sent.length).toBe(100); // the probe
      expect(restarted.pump.redrivePaused).toBe(true);
      await restarted.pump.redrive(n, now + 10_000);
      await restarted.pump.redrive(n, now + 20_000);
      expect(sent.length).toBe(100); // paused: nothing more while nothing is confirmed
      restarted.markPersisted([sent[0] ?? 0]);
      expect(restarted.pump.redrivePaused).toBe(false);
      await restarted.pump.redrive(n, Date.now() + 1);
      expect(new Set(sent).size).toBe(250); // the pass goes on: everything unconfirmed is sent again
    });
    await evictDurableObject(stub);
  });

  it("keeps a commit of 100 receipts in non-Latin script within SQLite's row limit", async () => {
    const f = await fixture();
    // 30 items of 200 CJK characters: ≈ 18 KB of UTF-8 per receipt, ≈ 1.8 MB in one request.
    const items = Array.from({ length: 30 }, (_, i) => ({
      name: "商".repeat(199) + String(i % 10),
      quantity: 1,
      unitPrice: 10,
      total: 10,
    }));
    const big = sale({ items, total: 300, payments: [{ method: "cash", amount: 300 }] });
    const res = await call<{ results: { status: number }[] }>("POST", "/v1/receipts/batch", {
      token: f.token,
      body: { receipts: Array.from({ length: 100 }, (_, i) => ({ idempotencyKey: `cjk-${i}`, ...big })) },
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => r.status)).toEqual(Array.from({ length: 100 }, () => 201));
    // Local SQLite would take a larger row; Cloudflare's refuses strings over 2 MB.
    const n = Number(f.token.split("_")[1]);
    const largest = await runInDurableObject(shard(env, n), (_: StoreShard, state) =>
      Number(state.storage.sql.exec("SELECT max(length(CAST(entries AS BLOB))) AS b FROM batches").one().b),
    );
    expect(largest).toBeGreaterThan(500_000);
    expect(largest).toBeLessThan(2_000_000);
  });
});

// Last: its 100,000 receipts reach Postgres after it ends, and would hold up the queue for later tests.
describe("a shard holding a large backlog", () => {
  it("issues and answers verify with a bounded number of rows read while 100,000 receipts wait for Postgres", async () => {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    const stub = shard(env, n);
    await runInDurableObject(stub, async (_: StoreShard, state) => {
      // Postgres never hears of them: the queue loses every message.
      const config = { ...shardConfig(env), storeRate: 1_000_000_000 };
      const held = openShard(state.storage, { queue: dropsMessages, config });
      for (let r = 0; r < 10_000; r++) {
        const req = oneSale(n, f.token, sale());
        req.entries = Array.from({ length: 10 }, (_, i) => ({ ...req.entries[0]!, idempotencyKey: `bulk-${r}-${i}` }));
        await held.issue(req);
      }
      expect(held.stats().unpersisted).toBeGreaterThanOrEqual(100_000);
      // Count the rows each call reads, through the storage seam.
      let rowsRead = 0;
      const counting = {
        ...storageOf(state.storage),
        sql: {
          exec: (query: string, ...bindings: unknown[]) => {
            const cursor = state.storage.sql.exec(query, ...bindings);
            const rows = cursor.toArray();
            rowsRead += cursor.rowsRead;
            return {
              toArray: () => rows,
              one: () => rows[0],
              rowsRead: cursor.rowsRead,
              rowsWritten: cursor.rowsWritten,
            };
          },
        } as unknown as SqlStorage,
      };
      const probe = openShard(state.storage, { storage: counting, queue: dropsMessages, config });
      rowsRead = 0;
      const [o] = (await probe.issue(oneSale(n, f.token, sale()))).outcomes;
      expect(o?.kind).toBe("issued");
      expect(rowsRead).toBeLessThan(20);
      rowsRead = 0;
      const view = probe.view(50_000);
      expect(view.held).not.toBeNull();
      expect(rowsRead).toBeLessThan(5);
    });
    await evictDurableObject(stub);
  }, 120_000);
});
