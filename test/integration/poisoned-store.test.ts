/**
 * Nothing a tenant can say may stop receipts: a store time zone Postgres does
 * not know is refused at the API, and one already stored (from before that
 * check) is counted in UTC; a rollup bucket near bigint's end still takes more;
 * and a receipt Postgres refuses for any other reason is quarantined instead of
 * holding its batch, its shard's ring and the lottery. Other tenants on the same
 * shard keep issuing throughout.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { shardForStore } from "../../core/ids.ts";
import worker from "../../workers/index.ts";
import {
  call,
  compact,
  eventually,
  type Fixture,
  fixture,
  issue,
  OPERATOR_TOKEN,
  sale,
  sqlQuery,
  uid,
  useShardBand,
} from "./helpers.ts";

useShardBand(16);

/** The lottery sweeps shards up to SHARD_COUNT (16 here) plus every shard a store sits on. */
async function asOperator<T = Record<string, unknown>>(method: string, path: string, body?: unknown) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`https://tillproof.test${path}`, {
      method,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
    { ...env, SHARD_COUNT: "16" },
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (text.startsWith("{") ? JSON.parse(text) : {}) as T, text };
}

/** A second tenant with a store on the same shard as `f`'s store. */
async function neighbourOf(f: Fixture): Promise<Fixture> {
  const n = shardForStore(f.tenantId, f.storeId, 1024);
  const tenantId = uid("neighbour");
  const t = await call<{ apiKey: string }>("POST", "/v1/tenants", {
    token: OPERATOR_TOKEN,
    body: { id: tenantId, name: "Neighbour" },
  });
  let storeId = uid("s");
  while (shardForStore(tenantId, storeId, 1024) !== n) storeId = uid("s");
  await call("PUT", `/v1/tenants/${tenantId}/stores/${storeId}`, {
    token: t.body.apiKey,
    body: { name: "Next door", timezone: "Europe/Vienna" },
  });
  const r = await call<{ token: string }>("POST", `/v1/tenants/${tenantId}/stores/${storeId}/terminals`, {
    token: t.body.apiKey,
    body: { id: "till-1" },
  });
  return { tenantId, apiKey: t.body.apiKey, storeId, terminalId: "till-1", token: r.body.token };
}

const persisted = (code: string) =>
  eventually(async () => {
    const rows = await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [compact(code)]);
    return rows.length ? true : null;
  }, 20_000);

describe("a store's time zone", () => {
  it("must be one Postgres knows: names only V8 knows are refused with 400", async () => {
    const f = await fixture();
    for (const timezone of ["AET", "BET", "US/Pacific-New", "+05:30", "europe/berlin"]) {
      const r = await call<{ error: { code: string; details: { path: string }[] } }>(
        "PUT",
        `/v1/tenants/${f.tenantId}/stores/${f.storeId}`,
        { token: f.apiKey, body: { name: "Main Street", timezone } },
      );
      expect(r.status, timezone).toBe(400);
      expect(r.body.error.details[0]?.path).toBe("timezone");
    }
  });

  it("ships a list of zones every one of which the database knows", async () => {
    const { storeTimeZones } = await import("../../core/time-zones.ts");
    const known = new Set((await sqlQuery<{ name: string }>("SELECT name FROM pg_timezone_names")).map((r) => r.name));
    const unknown = storeTimeZones().filter((tz) => !known.has(tz));
    expect(unknown).toEqual([]);
    expect(storeTimeZones().length).toBeGreaterThan(400);
  });

  it("already stored but unknown to Postgres, counts its receipts in UTC instead of refusing them", async () => {
    const f = await fixture();
    const neighbour = await neighbourOf(f);
    // As a store saved before the check would be.
    await sqlQuery("UPDATE stores SET timezone = 'AET' WHERE tenant_id = $1 AND id = $2", [f.tenantId, f.storeId]);
    const issuedAt = "2026-11-21T23:30:00Z"; // 22 Nov in Sydney, 21 Nov in UTC
    const r = await issue(f.token, sale({ issuedAt }));
    expect(r.status).toBe(201);
    const n = await issue(neighbour.token, sale());
    expect(n.status).toBe(201);
    await persisted(r.body.code);
    await persisted(n.body.code);
    const [bucket] = await sqlQuery<{ day: string; receipts: string }>(
      "SELECT to_char(day, 'YYYY-MM-DD') AS day, receipts FROM sales_rollup WHERE tenant_id = $1",
      [f.tenantId],
    );
    expect(bucket).toEqual({ day: "2026-11-21", receipts: "1" });
  });
});

describe("a rollup bucket near bigint's end", () => {
  it("takes one more receipt: sums are numeric and cannot overflow", async () => {
    const f = await fixture();
    await persisted((await issue(f.token, sale())).body.code);
    await sqlQuery("UPDATE sales_rollup SET gross = 9223372036854775000 WHERE tenant_id = $1", [f.tenantId]);
    const next = await issue(f.token, sale());
    await persisted(next.body.code);
    const [row] = await sqlQuery<{ gross: string }>("SELECT gross::text FROM sales_rollup WHERE tenant_id = $1", [
      f.tenantId,
    ]);
    expect(row?.gross).toBe("9223372036854775680");
  });
});

describe("a receipt Postgres refuses", () => {
  afterAll(async () => {
    await sqlQuery("ALTER TABLE receipts DROP CONSTRAINT IF EXISTS test_refuses_poison");
  });

  it("is quarantined, verifies, shows to the operator, and holds back neither its shard nor the lottery", async () => {
    const f = await fixture();
    const neighbour = await neighbourOf(f);
    const n = shardForStore(f.tenantId, f.storeId, 1024);
    // Postgres refuses this one receipt for ever (a stand-in for anything it may refuse).
    await sqlQuery("ALTER TABLE receipts ADD CONSTRAINT test_refuses_poison CHECK (cashier IS DISTINCT FROM 'poison')");
    const drawId = `draw-${crypto.randomUUID().slice(0, 8)}`;
    const closesAt = new Date(Date.now() + 2_000).toISOString();
    const created = await asOperator("POST", "/v1/lottery/draws", {
      id: drawId,
      title: "Poison draw",
      closesAt,
      prizes: [{ name: "Coffee", digits: 1, numbers: 1 }],
    });
    expect(created.status).toBe(201);

    const poisoned = await issue(f.token, sale({ cashier: "poison" }));
    expect(poisoned.status).toBe(201);
    const fine = await issue(f.token, sale({ cashier: "fine" }));
    const next = await issue(neighbour.token, sale());
    expect([fine.status, next.status]).toEqual([201, 201]);
    await persisted(fine.body.code);
    await persisted(next.body.code);

    const [q] = await eventually(async () => {
      const rows = await sqlQuery<{ shard: number; reason: string; sqlstate: string; hash: string }>(
        "SELECT shard, reason, sqlstate, hash FROM quarantined_receipts WHERE code = $1",
        [compact(poisoned.body.code)],
      );
      return rows.length ? rows : null;
    }, 30_000); // refused once, retried after 5 s, then quarantined
    expect(q).toMatchObject({ shard: n, sqlstate: "23514", hash: poisoned.body.hash });
    expect(q?.reason).toContain("test_refuses_poison");

    // The shard is told Postgres has it: nothing stays held.
    await eventually(async () => {
      const p = await asOperator<{ shards: { shard: number; unpersisted: number }[] }>("GET", "/v1/ops/pipeline");
      return p.body.shards.find((s) => s.shard === n)?.unpersisted === 0 ? true : null;
    }, 20_000);

    // Verify finds it and checks it against the log.
    const v = await eventually(async () => {
      const r = await call<{ status: string; persisted: boolean; cashier?: string }>(
        "GET",
        `/v1/verify/${poisoned.body.code}`,
      );
      return r.status === 200 ? r : null;
    });
    expect(v.body).toMatchObject({ status: "valid", persisted: false });

    // The operator sees it.
    const status = await asOperator<{ quarantine: { count: number }; alerts: string[] }>("GET", "/v1/ops/status");
    expect(status.body.quarantine.count).toBeGreaterThanOrEqual(1);
    expect(status.body.alerts.some((a) => a.includes("quarantined"))).toBe(true);
    const metrics = await asOperator("GET", "/metrics");
    expect(metrics.text).toMatch(/^tillproof_quarantined_receipts [1-9]/m);

    // The lottery runs (it waits for Postgres to hold every receipt before the close: it does).
    await new Promise((ok) => setTimeout(ok, Math.max(0, Date.parse(closesAt) - Date.now() + 50)));
    const run = await eventually(async () => {
      const r = await asOperator<{ draw: { status: string } }>("POST", `/v1/lottery/draws/${drawId}/run`);
      return r.status === 200 ? r : null;
    }, 20_000);
    expect(run.body.draw.status).toBe("drawn");

    // The shard goes on issuing for both tenants.
    expect((await issue(f.token, sale())).status).toBe(201);
    expect((await issue(neighbour.token, sale())).status).toBe(201);
  });
});

describe("the time zones Postgres knows", () => {
  it("are refreshed by the daily cron: a name the server no longer knows leaves the table", async () => {
    await sqlQuery("INSERT INTO time_zones (name) VALUES ('Atlantis/Lost') ON CONFLICT DO NOTHING");
    const ctx = createExecutionContext();
    await worker.scheduled({ cron: "17 3 * * *" } as ScheduledController, env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await sqlQuery("SELECT 1 FROM time_zones WHERE name = 'Atlantis/Lost'")).toEqual([]);
    expect((await sqlQuery("SELECT 1 FROM time_zones WHERE name = 'Europe/Berlin'")).length).toBe(1);
  });
});
