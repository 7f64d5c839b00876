/**
 * Two Postgres databases (DATABASE_URLS, docs/scale.md §6a): the primary keeps
 * the control plane and shards 0-1, a receipts database `r1` shards 2-3 and
 * subscribes to the control plane. A tenant's stores on shards in both: each
 * receipt lands in its shard's database only, verifies there, and one database
 * down holds back only its own shards' receipts.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeRoute } from "../../core/code.ts";
import { shardForStore } from "../../core/ids.ts";
import { runAudit } from "../../scripts/audit.ts";
import { controlPlaneCaughtUp, setUpReceiptsDatabase } from "../../scripts/lib/stack/databases.ts";
import {
  auditTarget,
  callStack,
  OPERATOR_TOKEN,
  type ReceiptsDatabase,
  type Stack,
  startStack,
} from "../../scripts/lib/stack/local.ts";
import { insiderSql } from "../insider.ts";
import { stackJson, until } from "./helpers.ts";

let stack: Stack;
let receiver: Server;
let receiverUrl: string;
/** Event ids the webhook receiver was sent. */
const received: string[] = [];
let r1: ReceiptsDatabase;
let apiKey: string;
const tokens = new Map<number, string>();

const api = <T>(method: string, path: string, token: string, body?: unknown) =>
  stackJson<T>(stack, method, path, token, body);

const sale = (total: number) => ({
  issuedAt: "2026-11-21T10:15:00+01:00",
  currency: "EUR",
  items: [{ name: "Bread", quantity: 1, unitPrice: total, total }],
  total,
  payments: [{ method: "cash", amount: total }],
});

async function issue(shard: number, key: string, total: number): Promise<string> {
  const token = tokens.get(shard) ?? "";
  const { results } = await api<{ results: { receipt: { code: string } }[] }>("POST", "/v1/receipts/batch", token, {
    receipts: [{ idempotencyKey: key, ...sale(total) }],
  });
  return results[0]?.receipt.code.replaceAll("-", "") ?? "";
}

const callStackRun = async (drawId: string) =>
  (await callStack(stack, "POST", `/v1/lottery/draws/${drawId}/run`, OPERATOR_TOKEN)).status;

const countIn = async (sql: Stack["sql"], codes: string[]) =>
  Number((await sql<{ n: string }>("SELECT count(*) AS n FROM receipts WHERE code = ANY($1)", [codes]))[0]?.n);

beforeAll(async () => {
  receiver = createServer((req, res) => {
    received.push(String(req.headers["tillproof-event-id"] ?? ""));
    req.resume().on("end", () => res.writeHead(204).end());
  });
  await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", ok));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  // HOT_DAYS=0: today may be archived (the last test).
  stack = await startStack({ receiptsDatabases: 1, vars: { ALLOW_INSECURE_WEBHOOKS: "on", HOT_DAYS: "0" } });
  r1 = stack.receiptsDatabases[0] as ReceiptsDatabase;
  ({ apiKey } = await api<{ apiKey: string }>("POST", "/v1/tenants", OPERATOR_TOKEN, { id: "split", name: "Split" }));
  // Stores until every shard has one (a store's shard is fixed when it is created).
  for (let i = 0; tokens.size < stack.shardCount && i < 64; i++) {
    const shard = shardForStore("split", `s${i}`, stack.shardCount);
    if (tokens.has(shard)) continue;
    await api("PUT", `/v1/tenants/split/stores/s${i}`, apiKey, { name: `Store ${i}`, timezone: "Europe/Berlin" });
    const { token } = await api<{ token: string }>("POST", `/v1/tenants/split/stores/s${i}/terminals`, apiKey, {
      id: "till",
    });
    tokens.set(shard, token);
  }
  await api("PUT", "/v1/tenants/split/webhooks/all", apiKey, {
    url: receiverUrl,
    events: ["receipt.persisted"],
  });
  await controlPlaneCaughtUp(stack.databaseUrl, r1.databaseUrl);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  receiver?.close();
});

describe("two databases by shard range", () => {
  it("writes each receipt to its shard's database only, and verifies it from there", async () => {
    expect(tokens.size).toBe(stack.shardCount);
    const codes = new Map<number, string>();
    for (const shard of tokens.keys()) codes.set(shard, await issue(shard, `one-${shard}`, 100 + shard));
    const onPrimary = [...codes].filter(([s]) => s <= 1).map(([, c]) => c);
    const onR1 = [...codes].filter(([s]) => s >= 2).map(([, c]) => c);
    await until(
      async () => (await countIn(stack.sql, onPrimary)) === 2 && (await countIn(r1.sql, onR1)) === 2,
      "each receipt in its shard's database",
    );
    expect(await countIn(stack.sql, onR1)).toBe(0);
    expect(await countIn(r1.sql, onPrimary)).toBe(0);
    for (const code of codes.values()) {
      expect(codeRoute(code)?.shard).toBe([...codes].find(([, c]) => c === code)?.[0]);
      await until(async () => {
        const v = (await (await fetch(`${stack.baseUrl}/v1/verify/${code}`)).json()) as {
          status: string;
          persisted: boolean;
        };
        return v.status === "valid" && v.persisted;
      }, `${code} verifies valid and persisted`);
    }
    // The receipt page shows the store's name: verify joined the control plane's copy in r1.
    const page = await (await fetch(`${stack.baseUrl}/r/${onR1[0]}`)).text();
    expect(page).toContain("Store ");
  });

  it("keeps the rollups in the database of the receipt, through its copy of the store's time zone", async () => {
    const rows = await r1.sql<{ n: string }>("SELECT count(*) AS n FROM sales_rollup WHERE tenant_id = 'split'");
    expect(Number(rows[0]?.n)).toBeGreaterThan(0);
  });

  it("analytics adds both databases up: sales, items and the operator's totals equal what was issued", async () => {
    // Booked on the sale's issuedAt, a store-local day.
    const range = "from=2026-11-20&to=2026-11-22";
    const issued = await stack.sql<{ n: string; gross: string }>(
      "SELECT count(*) AS n, sum(total) AS gross FROM receipts WHERE tenant_id = 'split'",
    );
    const inR1 = await r1.sql<{ n: string; gross: string }>(
      "SELECT count(*) AS n, sum(total) AS gross FROM receipts WHERE tenant_id = 'split'",
    );
    const receipts = Number(issued[0]?.n) + Number(inR1[0]?.n);
    const gross = Number(issued[0]?.gross) + Number(inR1[0]?.gross);
    expect(Number(inR1[0]?.n)).toBeGreaterThan(0);
    const { series } = await api<{ series: { storeId: string; receipts: number; gross: number }[] }>(
      "GET",
      `/v1/tenants/split/analytics/sales?${range}`,
      apiKey,
    );
    expect(series.reduce((t, b) => t + b.receipts, 0)).toBe(receipts);
    expect(series.reduce((t, b) => t + b.gross, 0)).toBe(gross);
    expect(new Set(series.map((b) => b.storeId)).size).toBe(stack.shardCount);
    const { items } = await api<{ items: { name: string; revenue: number; receipts: number }[] }>(
      "GET",
      `/v1/tenants/split/analytics/items?${range}`,
      apiKey,
    );
    expect(items).toEqual([expect.objectContaining({ name: "Bread", revenue: gross, receipts })]);
    const { tenants } = await api<{ tenants: { tenantId: string; receipts: number; gross: number }[] }>(
      "GET",
      `/v1/ops/analytics/tenants?${range}`,
      OPERATOR_TOKEN,
    );
    expect(tenants.find((t) => t.tenantId === "split")).toEqual(expect.objectContaining({ receipts, gross }));
  });

  it("webhooks: each database delivers its own receipts' events; the log merges both; a manual retry finds its database", async () => {
    const codes = [
      ...(await stack.sql<{ code: string }>("SELECT code FROM receipts")),
      ...(await r1.sql<{ code: string }>("SELECT code FROM receipts")),
    ].map((r) => `evt_${r.code}`);
    await until(async () => codes.every((e) => received.includes(e)), "every receipt's event delivered");
    const inR1 = await r1.sql<{ event_id: string }>("SELECT event_id FROM webhook_deliveries");
    expect(inR1.length).toBeGreaterThan(0);
    expect(
      await stack.sql("SELECT 1 FROM webhook_deliveries WHERE event_id = ANY($1)", [inR1.map((d) => d.event_id)]),
    ).toEqual([]);
    // The delivery log, one at a time: every event once, newest first, across both databases.
    const listed: string[] = [];
    let next: string | null = "";
    while (next !== null) {
      const page: { deliveries: { eventId: string }[]; next: string | null } = await api(
        "GET",
        `/v1/tenants/split/webhooks/all/deliveries?limit=1${next ? `&before=${next}` : ""}`,
        apiKey,
      );
      listed.push(...page.deliveries.map((d) => d.eventId));
      next = page.next;
    }
    expect([...listed].sort()).toEqual([...codes].sort());
    const retried = await api<{ delivery: { eventId: string; status: string; attempts: number } }>(
      "POST",
      `/v1/tenants/split/webhooks/all/deliveries/${inR1[0]?.event_id}/retry`,
      apiKey,
    );
    expect(retried.delivery).toEqual(expect.objectContaining({ eventId: inR1[0]?.event_id, status: "delivered" }));
    expect(retried.delivery.attempts).toBeGreaterThanOrEqual(2);
    // Deleting the webhook deletes its deliveries in r1 too, where no foreign key cascades a replicated delete.
    expect((await callStack(stack, "DELETE", "/v1/tenants/split/webhooks/all", apiKey)).status).toBe(204);
    await until(
      async () => (await r1.sql("SELECT 1 FROM webhook_deliveries LIMIT 1")).length === 0,
      "r1's deliveries of the deleted webhook are gone",
    );
  });

  it("the lottery finds and keeps its winners in both databases, net of a refund issued in the other database", async () => {
    const drawId = "split-draw";
    const closesAt = new Date(Date.now() + 5_000).toISOString();
    await api("POST", "/v1/lottery/draws", OPERATOR_TOKEN, {
      id: drawId,
      title: "Two databases",
      closesAt,
      minTotal: 1000,
      // A last symbol of 32, drawn 100 times: nearly every code wins, so a refunded one surely would have.
      prizes: [{ name: "Coin", digits: 1, numbers: 100 }],
    });
    const tickets: string[] = [];
    for (const shard of tokens.keys())
      for (let i = 0; i < 8; i++) tickets.push(await issue(shard, `draw-${shard}-${i}`, 1500));
    // A refund at a store on the primary's shard 0 of every sale on r1's shard 3: 1500 − 600 < 1000.
    const onR1 = tickets.filter((c) => codeRoute(c)?.shard === 3);
    for (const [i, code] of onR1.entries()) {
      const { results } = await api<{ results: { status: number }[] }>(
        "POST",
        "/v1/receipts/batch",
        tokens.get(0) ?? "",
        {
          receipts: [
            {
              idempotencyKey: `refund-${i}`,
              kind: "refund",
              refersTo: code,
              ...sale(600),
            },
          ],
        },
      );
      expect(results[0]?.status).toBe(201);
    }
    await new Promise((ok) => setTimeout(ok, Math.max(0, Date.parse(closesAt) - Date.now() + 100)));
    await until(async () => (await callStackRun(drawId)) === 200, "the draw runs", 60_000);
    const { draw } = await api<{ draw: { winningNumbers: { prize: number; suffixes: string[] }[]; winners: number } }>(
      "GET",
      `/v1/lottery/draws/${drawId}`,
      "",
    );
    const suffixes = draw.winningNumbers.flatMap((w) => w.suffixes);
    const expected = tickets.filter((c) => codeRoute(c)?.shard !== 3 && suffixes.some((x) => c.endsWith(x))).sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(tickets.some((c) => codeRoute(c)?.shard === 3 && suffixes.some((x) => c.endsWith(x)))).toBe(true);
    const listed = await api<{ winners: { code: string }[] }>(
      "GET",
      `/v1/lottery/draws/${drawId}/winners?limit=500`,
      OPERATOR_TOKEN,
    );
    expect(listed.winners.map((w) => w.code.replaceAll("-", "")).sort()).toEqual(expected);
    expect(draw.winners).toBe(expected.length);
    const kept = await stack.sql<{ code: string }>(
      "SELECT code FROM lottery_winners WHERE draw_id = $1 ORDER BY code",
      [drawId],
    );
    expect(kept.map((k) => k.code.trim())).toEqual(expected);
  }, 120_000);

  it("one database down holds back only its shards' receipts; they land once it is back", async () => {
    r1.proxy.mode("down");
    try {
      const up = await issue(0, "down-0", 500);
      const held = await issue(3, "down-3", 503);
      await until(
        async () => (await countIn(stack.sql, [up])) === 1,
        "the primary's receipt persists while r1 is down",
      );
      await new Promise((ok) => setTimeout(ok, 1_000));
      expect(await countIn(r1.sql, [held])).toBe(0);
      // Held by its shard meanwhile, and verifiable from there.
      const v = (await (await fetch(`${stack.baseUrl}/v1/verify/${held}`)).json()) as {
        status: string;
        persisted: boolean;
      };
      expect(v.persisted).toBe(false);
      await until(async () => {
        const health = await fetch(`${stack.baseUrl}/healthz`);
        const { checks } = (await health.json()) as { checks: { databases: string } };
        return health.status === 503 && checks.databases === "unreachable: r1";
      }, "/healthz names the database that is down");
      r1.proxy.mode("up");
      await until(async () => (await countIn(r1.sql, [held])) === 1, "r1's receipt lands once r1 is back", 90_000);
      expect(await countIn(stack.sql, [held])).toBe(0);
    } finally {
      r1.proxy.mode("up");
    }
  }, 120_000);

  it("a receipts database whose subscription stopped: the minute cron's heartbeat shows how far behind it is, in /healthz, the status and /metrics", async () => {
    const sub = "tillproof_control_r1";
    await r1.sql(`ALTER SUBSCRIPTION ${sub} DISABLE`);
    try {
      // Ten minutes behind without waiting ten minutes: its copy of the heartbeat set back.
      await r1.sql("UPDATE control_heartbeat SET at = now() - interval '10 minutes'");
      const before = await stack.sql<{ at: Date }>("SELECT at FROM control_heartbeat");
      const cron = await fetch(`${stack.baseUrl}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`);
      expect(cron.status).toBe(200);
      const after = await stack.sql<{ at: Date }>("SELECT at FROM control_heartbeat");
      expect(after[0]?.at.getTime()).toBeGreaterThan(before[0]?.at.getTime() ?? 0);
      await until(async () => {
        const health = await fetch(`${stack.baseUrl}/healthz`);
        const { checks } = (await health.json()) as { checks: { databases: string } };
        return health.status === 503 && /^r1's copy of the control plane is \d+ s behind/.test(checks.databases);
      }, "/healthz says r1's copy is behind");
      const status = await api<{ controlPlane: { lagSeconds: number; database: string }; alerts: string[] }>(
        "GET",
        "/v1/ops/status",
        OPERATOR_TOKEN,
      );
      expect(status.controlPlane.database).toBe("r1");
      expect(status.controlPlane.lagSeconds).toBeGreaterThanOrEqual(600);
      expect(status.alerts.some((a) => a.startsWith("The receipts database r1 has not received"))).toBe(true);
      const metrics = await (
        await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })
      ).text();
      expect(metrics).toMatch(/tillproof_control_plane_lag_seconds\{database="r1"\} \d{3,}/);
    } finally {
      await r1.sql(`ALTER SUBSCRIPTION ${sub} ENABLE`);
    }
    // Enabled again, it catches up: the primary's heartbeat arrives and the lag is gone.
    await until(
      async () => {
        const health = await fetch(`${stack.baseUrl}/healthz`);
        return ((await health.json()) as { checks: { databases: string } }).checks.databases === "ok";
      },
      "r1 caught up",
      30_000,
    );
  }, 90_000);

  it("a receipts database that could not subscribe leaves no replication slot keeping the primary's WAL", async () => {
    const name = `r9x${process.pid}`;
    await stack.sql(`CREATE DATABASE tillproof_${name}`);
    const url = new URL(stack.databaseUrl);
    url.pathname = `/tillproof_${name}`;
    try {
      // The subscription's login points nowhere: CREATE SUBSCRIPTION cannot reach the primary.
      await expect(
        setUpReceiptsDatabase(stack.databaseUrl, url.toString(), name, "postgres://nobody@127.0.0.1:1/nowhere"),
      ).rejects.toThrow(
        new RegExp(
          `receipts database "${name}" was not subscribed [\\s\\S]*replication slot \\S+ on the primary was dropped again`,
        ),
      );
      expect(
        await stack.sql("SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE $1", [`%${name}%`]),
      ).toEqual([]);
    } finally {
      await stack.sql(`DROP DATABASE IF EXISTS tillproof_${name} WITH (FORCE)`);
    }
  });

  it("npm run audit reads every shard from both databases: intact passes; a row altered in r1 is found", async () => {
    const all = [
      ...(await stack.sql<{ code: string }>("SELECT code FROM receipts")),
      ...(await r1.sql<{ code: string }>("SELECT code FROM receipts")),
    ].map((r) => r.code);
    await until(async () => {
      const checks = await Promise.all(
        all.map((c) => fetch(`${stack.baseUrl}/v1/verify/${c}`).then((r) => r.json() as Promise<{ proof: unknown }>)),
      );
      return checks.every((c) => c.proof !== null);
    }, "checkpoints covering every receipt");
    const audit = () => runAudit({ ...auditTarget(stack), graceMs: 1_000 });
    const intact = await audit();
    expect(intact.problems).toBe(0);
    expect(intact.checked).toBe(all.length);
    // Without r1 the audit sees its shards' receipts as missing: it must read both.
    const primaryOnly = await runAudit({ ...auditTarget(stack), receiptsDatabaseUrls: [], graceMs: 1_000 });
    expect(primaryOnly.problems).toBeGreaterThan(0);
    const [altered] = (
      await r1.sql<{ code: string }>(
        "SELECT code FROM receipts WHERE kind IS DISTINCT FROM 'refund' ORDER BY code LIMIT 1",
      )
    ).map((r) => r.code);
    await r1.sql(insiderSql(`UPDATE receipts SET total = total + 1 WHERE code = '${altered}'`));
    const report = await audit();
    const found = report.shards
      .flatMap((s: { problems: { kind: string; code: string }[] }) => s.problems)
      .map((p) => `${p.kind} ${p.code.replaceAll("-", "")}`);
    expect(found, found.join("\n")).toEqual(expect.arrayContaining([expect.stringContaining(String(altered))]));
    // Put back as it was (the archive below reads it).
    await r1.sql(insiderSql(`UPDATE receipts SET total = total - 1 WHERE code = '${altered}'`));
    expect((await audit()).problems).toBe(0);
  }, 120_000);

  it("the archive: each database archives its own shards' day and drops it; every receipt still verifies, and the audit reads both registries", async () => {
    const day = new Date().toISOString().slice(0, 10);
    const all = [
      ...(await stack.sql<{ code: string }>("SELECT code FROM receipts")),
      ...(await r1.sql<{ code: string }>("SELECT code FROM receipts")),
    ].map((r) => r.code);
    type Report = { state: string; rows: number; databases?: { database: string; state: string; rows: number }[] };
    let report: Report;
    do report = await api<Report>("POST", `/v1/ops/archive/${day}`, OPERATOR_TOKEN);
    while (report.state === "writing");
    expect(report.state, JSON.stringify(report)).toBe("dropped");
    expect(report.rows).toBe(all.length);
    expect(report.databases?.map((d) => [d.database, d.state])).toEqual([
      ["primary", "dropped"],
      ["r1", "dropped"],
    ]);
    expect(report.databases?.every((d) => d.rows > 0)).toBe(true);
    // A receipts database's objects carry its name: none can take a key another database wrote.
    const keys = await r1.sql<{ key: string }>("SELECT key FROM archive_objects");
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.key.endsWith(".r1.parquet"))).toBe(true);
    expect(await countIn(stack.sql, all)).toBe(0);
    expect(await countIn(r1.sql, all)).toBe(0);
    for (const code of all) {
      const v = await api<{ status: string; persisted: boolean }>("GET", `/v1/verify/${code}`, OPERATOR_TOKEN);
      expect(v.status, code).toBe("valid");
    }
    const audited = await runAudit({ ...auditTarget(stack), operatorToken: OPERATOR_TOKEN, graceMs: 1_000 });
    expect(audited.problems).toBe(0);
    expect(audited.checked).toBe(all.length);
  }, 180_000);
});
