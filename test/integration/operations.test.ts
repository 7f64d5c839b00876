/** What the operator sees and does: /metrics while things work and while Postgres is down, and dead letters. */
import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { OutboxMessage } from "../../core/outbox.ts";
import alertRules from "../../ops/alerts.yml?raw";
import worker, { app } from "../../workers/index.ts";
import {
  call,
  eventually,
  fixture,
  issue,
  OPERATOR_TOKEN,
  sale,
  sqlQuery,
  syntheticMessage,
  uid,
  useShardBand,
} from "./helpers.ts";

useShardBand(13);

async function scrape(over: Partial<typeof env> = {}, token = OPERATOR_TOKEN) {
  const ctx = createExecutionContext();
  const res = await app.request(
    "https://tillproof.test/metrics",
    { headers: { authorization: `Bearer ${token}` } },
    { ...env, ...over },
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, type: res.headers.get("content-type"), text };
}

/** The value of one sample (`name{labels}` exactly as printed), or undefined. */
const sample = (text: string, series: string) =>
  text
    .split("\n")
    .find((l) => l.startsWith(`${series} `))
    ?.split(" ")[1];

describe("/metrics", () => {
  it("exposes every series the alerting rules use, from the shards and from Postgres", async () => {
    const f = await fixture();
    expect((await issue(f.token, sale())).status).toBe(201);
    const n = Number(f.token.split("_")[1]);
    const m = await eventually(async () => {
      const s = await scrape();
      return Number(sample(s.text, `tillproof_receipts_persisted_total{shard="${n}"}`)) >= 1 ? s : null;
    });
    expect(m.status).toBe(200);
    expect(m.type).toContain("text/plain; version=0.0.4");
    expect(Number(sample(m.text, `tillproof_receipts_issued_total{shard="${n}"}`))).toBeGreaterThanOrEqual(1);
    expect(Number(sample(m.text, `tillproof_log_tree_size{shard="${n}"}`))).toBeGreaterThanOrEqual(1);
    expect(Number(sample(m.text, `tillproof_code_space_used_ratio{shard="${n}"}`))).toBeGreaterThan(0);
    expect(sample(m.text, "tillproof_postgres_up")).toBe("1");
    expect(sample(m.text, "tillproof_default_partition_rows")).toBe("0");
    expect(Number(sample(m.text, "tillproof_future_partitions"))).toBeGreaterThanOrEqual(3);
    const used = new Set(alertRules.match(/tillproof_[a-z_]+/g));
    for (const name of used) expect(m.text, name).toContain(`# TYPE ${name} `);
    expect((await scrape({}, "not-the-operator")).status).toBe(401);
  });

  it("shows a Postgres outage while it happens, with the shards still reporting", async () => {
    const f = await fixture();
    expect((await issue(f.token, sale())).status).toBe(201);
    const n = Number(f.token.split("_")[1]);
    const down = await scrape({ DATABASE_URL: `postgres://postgres@127.0.0.1:1/${uid("down")}` });
    expect(down.status).toBe(200);
    expect(sample(down.text, "tillproof_postgres_up")).toBe("0");
    expect(Number(sample(down.text, `tillproof_receipts_issued_total{shard="${n}"}`))).toBeGreaterThanOrEqual(1);
    expect(sample(down.text, "tillproof_future_partitions")).toBe("NaN");
  });
});

describe("dead letters", () => {
  it("keeps each dead-lettered message, lists it, and replays it into Postgres once", async () => {
    const tenantId = uid("dlq");
    const message = syntheticMessage(tenantId, 3, 40_000_000 + Math.floor(Math.random() * 1_000_000), 13);
    const batch = createMessageBatch<OutboxMessage>("tillproof-receipts-dlq", [
      { id: `dead-${tenantId}`, timestamp: new Date(), attempts: 11, body: message },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([`dead-${tenantId}`]);

    const listed = await call<{ deadLetters: { id: string; receipts: number; shard: number }[] }>(
      "GET",
      "/v1/ops/dead-letters",
      { token: OPERATOR_TOKEN },
    );
    expect(listed.status).toBe(200);
    expect(listed.body.deadLetters).toContainEqual(
      expect.objectContaining({ id: `dead-${tenantId}`, receipts: 3, shard: 13 }),
    );
    expect(sample((await scrape()).text, "tillproof_dead_letters")).not.toBe("0");
    expect((await call("GET", "/v1/ops/dead-letters")).status).toBe(401);

    const replay = await call<{ replayed: number }>("POST", "/v1/ops/dead-letters/replay", { token: OPERATOR_TOKEN });
    expect(replay.status).toBe(200);
    expect(replay.body.replayed).toBeGreaterThanOrEqual(1);
    const count = async () =>
      Number(
        (await sqlQuery<{ n: string }>("SELECT count(*) AS n FROM receipts WHERE tenant_id = $1", [tenantId]))[0]?.n,
      );
    await eventually(async () => ((await count()) === 3 ? true : null));
    // Replaying again finds nothing pending, and the rows stay single.
    expect(
      (await call<{ replayed: number }>("POST", "/v1/ops/dead-letters/replay", { token: OPERATOR_TOKEN })).body
        .replayed,
    ).toBe(0);
    expect(await count()).toBe(3);
  });
});

describe("no chaos in the product (npm run chaos runs its own entry)", () => {
  it("has no faults route, whatever the settings say, and acks a first delivery", async () => {
    const over = { ...env, FAULT_INJECTION: "on" } as typeof env;
    const res = await app.request(
      "https://tillproof.test/v1/ops/faults",
      {
        method: "POST",
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ fault: "duplicate_delivery", seconds: 30 }),
      },
      over,
    );
    expect(res.status).toBe(404);
    const tenantId = uid("nochaos");
    const batch = createMessageBatch<OutboxMessage>("tillproof-receipts", [
      {
        id: `once-${tenantId}`,
        timestamp: new Date(),
        attempts: 1,
        body: syntheticMessage(tenantId, 3, 13_200_000, 13),
      },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, over, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([`once-${tenantId}`]);
  });
});
