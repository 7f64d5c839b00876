/**
 * Retail analytics against a recomputation from the raw receipts: store-local
 * days across midnight and a DST change, a zone half an hour off UTC, several
 * currencies; redelivery counts nothing twice; a rebuild equals what the
 * consumer kept.
 */
import { createExecutionContext, createMessageBatch, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { splitTax } from "../../core/analytics.ts";
import { canonicalJson } from "../../core/canonical.ts";
import type { OutboxMessage } from "../../core/outbox.ts";
import { droppedDaysMark } from "../../db/archive.ts";
import { dbOf, openPg } from "../../db/client.ts";
import { type RecordRow, recordColumns, recordFromRow } from "../../db/receipts.ts";
import { rebuildRollups } from "../../db/rollups.ts";
import worker from "../../workers/index.ts";
import {
  call,
  eventually,
  type Fixture,
  fixture,
  issue,
  OPERATOR_TOKEN,
  sqlQuery,
  storeIdInBand,
  useShardBand,
} from "./helpers.ts";

useShardBand(14);

type Item = { name: string; sku?: string; quantity: number; unitPrice: number; taxRate?: number; total: number };
type Pay = { method: "cash" | "card" | "other"; amount: number };
const item = (name: string, quantity: number, unitPrice: number, extra: Partial<Item> = {}): Item => ({
  name,
  quantity,
  unitPrice,
  total: Math.round(quantity * unitPrice),
  ...extra,
});
const saleOf = (issuedAt: string, currency: string, items: Item[], methods: Pay["method"][]) => {
  const total = items.reduce((s, i) => s + i.total, 0);
  const share = Math.floor(total / methods.length);
  const payments = methods.map((method, i) => ({
    method,
    amount: i === 0 ? total - share * (methods.length - 1) : share,
  }));
  return { issuedAt, currency, items, total, payments };
};

let f: Fixture;
let kolkata: { storeId: string; token: string };
const FROM = "2026-03-27";
const TO = "2026-03-31";

/** Berlin (CET → CEST on 29 March 2026 at 01:00 UTC) and Kolkata (UTC+5:30). */
const BERLIN = [
  saleOf(
    "2026-03-28T22:30:00Z",
    "EUR",
    [item("Espresso", 2, 250, { sku: "A1", taxRate: 19 }), item("Bag", 1, 10)],
    ["cash"],
  ), // 23:30 on the 28th
  saleOf(
    "2026-03-28T23:30:00Z",
    "EUR",
    [item("Espresso", 1, 250, { sku: "A1", taxRate: 19 }), item("Cake", 0.5, 401, { taxRate: 7 })],
    ["card", "other"],
  ), // 00:30 on the 29th
  saleOf("2026-03-29T01:30:00Z", "USD", [item("Souvenir", 3, 1000, { sku: "S9", taxRate: 19 })], ["card"]), // 03:30 CEST
  saleOf("2026-03-29T21:59:00Z", "EUR", [item("Espresso", 1, 250, { sku: "A1", taxRate: 19 })], ["cash"]), // 23:59 CEST
  saleOf(
    "2026-03-29T22:01:00Z",
    "EUR",
    [item("Espresso", 3, 250, { sku: "A1", taxRate: 19 }), item("Bag", 2, 10)],
    ["cash", "card"],
  ), // 00:01 on the 30th
];
const KOLKATA = [
  saleOf("2026-03-28T18:20:00Z", "INR", [item("Chai", 2, 2000, { sku: "C1", taxRate: 7.7 })], ["card"]), // 23:50 on the 28th
  saleOf(
    "2026-03-28T18:40:00Z",
    "INR",
    [item("Chai", 1, 2000, { sku: "C1", taxRate: 7.7 }), item("Samosa", 1, 1500, { taxRate: 5 })],
    ["cash"],
  ), // 00:10 on the 29th
];

type Raw = {
  code: string;
  store_id: string;
  currency: string;
  issued: string;
  items: Item[];
  payments: Pay[];
  total: number;
};
const ZONES: Record<string, string> = {};

async function raw(): Promise<Raw[]> {
  return sqlQuery<Raw>(
    `SELECT code, store_id, currency, to_char(issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS issued,
            items, payments, total::int AS total
       FROM receipts WHERE tenant_id = $1`,
    [f.tenantId],
  );
}
const localDay = (iso: string, zone: string) =>
  new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(
    new Date(iso),
  );
const utcHour = (iso: string) => `${iso.slice(0, 13)}:00:00Z`;
const inRange = (r: Raw, from: string, to: string) => {
  const d = localDay(r.issued, ZONES[r.store_id] ?? "UTC");
  return d >= from && d <= to;
};

/** The sales series, recomputed in JavaScript from the raw receipts. */
function expectedSeries(rows: Raw[], granularity: "day" | "hour", from: string, to: string) {
  const out = new Map<
    string,
    {
      start: string;
      storeId: string;
      currency: string;
      receipts: number;
      gross: number;
      byPayment: Record<string, number>;
      byTaxRate: Record<string, number>;
      refunds: number;
      refunded: number;
      net: number;
    }
  >();
  for (const r of rows.filter((x) => inRange(x, from, to))) {
    const start = granularity === "day" ? localDay(r.issued, ZONES[r.store_id] ?? "UTC") : utcHour(r.issued);
    const k = `${start}|${r.store_id}|${r.currency}`;
    const b = out.get(k) ?? {
      start,
      storeId: r.store_id,
      currency: r.currency,
      receipts: 0,
      gross: 0,
      byPayment: { cash: 0, card: 0, other: 0 },
      byTaxRate: {},
      // Every receipt here is a sale (refunds and voids: test/integration/refunds.test.ts).
      refunds: 0,
      refunded: 0,
      net: 0,
    };
    b.receipts++;
    b.gross += r.total;
    b.net += r.total;
    for (const p of r.payments) b.byPayment[p.method] = (b.byPayment[p.method] ?? 0) + p.amount;
    for (const i of r.items) {
      const rate = i.taxRate === undefined ? "none" : String(i.taxRate);
      b.byTaxRate[rate] = (b.byTaxRate[rate] ?? 0) + i.total;
    }
    out.set(k, b);
  }
  return [...out.values()].sort((a, b) =>
    `${a.start}|${a.storeId}|${a.currency}` < `${b.start}|${b.storeId}|${b.currency}` ? -1 : 1,
  );
}

const get = <T>(path: string, token = f.apiKey) => call<T>("GET", path, { token });

beforeAll(async () => {
  f = await fixture(); // its store is in Europe/Berlin
  ZONES[f.storeId] = "Europe/Berlin";
  const storeId = storeIdInBand(f.tenantId);
  await call("PUT", `/v1/tenants/${f.tenantId}/stores/${storeId}`, {
    token: f.apiKey,
    body: { name: "Bandra", timezone: "Asia/Kolkata" },
  });
  const t = await call<{ token: string }>("POST", `/v1/tenants/${f.tenantId}/stores/${storeId}/terminals`, {
    token: f.apiKey,
    body: { id: "till-1" },
  });
  kolkata = { storeId, token: t.body.token };
  ZONES[storeId] = "Asia/Kolkata";
  for (const s of BERLIN) expect((await issue(f.token, s)).status).toBe(201);
  for (const s of KOLKATA) expect((await issue(kolkata.token, s)).status).toBe(201);
  await eventually(async () => ((await raw()).length === BERLIN.length + KOLKATA.length ? true : null));
}, 60_000);

describe("sales", () => {
  it("answers exactly what the raw receipts give, by store-local day and by UTC hour", async () => {
    const rows = await raw();
    for (const granularity of ["day", "hour"] as const) {
      const res = await get<{ series: unknown[] }>(
        `/v1/tenants/${f.tenantId}/analytics/sales?from=${FROM}&to=${TO}&granularity=${granularity}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.series).toEqual(expectedSeries(rows, granularity, FROM, TO));
    }
    // Spot checks of the edges: 00:30 CET and 03:30 CEST are both the 29th in Berlin; 00:10 in Kolkata is the
    // 29th while its UTC hour (18:00 on the 28th) also holds a receipt of the 28th.
    const day = await get<{ series: { start: string; storeId: string; currency: string; receipts: number }[] }>(
      `/v1/tenants/${f.tenantId}/analytics/sales?from=2026-03-29&to=2026-03-29&storeId=${f.storeId}`,
    );
    expect(day.body.series.map((s) => [s.start, s.currency, s.receipts])).toEqual([
      ["2026-03-29", "EUR", 2],
      ["2026-03-29", "USD", 1],
    ]);
    const hour = await get<{ series: { start: string; storeId: string; receipts: number }[] }>(
      `/v1/tenants/${f.tenantId}/analytics/sales?from=${FROM}&to=${TO}&granularity=hour&storeId=${kolkata.storeId}`,
    );
    expect(hour.body.series.map((s) => [s.start, s.receipts])).toEqual([["2026-03-28T18:00:00Z", 2]]);
  });

  it("filters by store-local days, and a store filter only narrows", async () => {
    const rows = await raw();
    const res = await get<{ series: unknown[] }>(
      `/v1/tenants/${f.tenantId}/analytics/sales?from=2026-03-29&to=2026-03-29&storeId=${kolkata.storeId}`,
    );
    expect(res.body.series).toEqual(
      expectedSeries(
        rows.filter((r) => r.store_id === kolkata.storeId),
        "day",
        "2026-03-29",
        "2026-03-29",
      ),
    );
  });
});

describe("items", () => {
  it("ranks items by revenue per currency, keyed by sku or else name, as the raw receipts give", async () => {
    const rows = (await raw()).filter((r) => inRange(r, FROM, TO));
    const byKey = new Map<
      string,
      { sku: string | null; name: string; quantity: number; revenue: number; codes: Set<string>; currency: string }
    >();
    for (const r of rows) {
      for (const i of r.items) {
        const k = `${i.sku ? `s:${i.sku}` : `n:${i.name}`}|${r.currency}`;
        const e = byKey.get(k) ?? {
          sku: i.sku ?? null,
          name: i.name,
          quantity: 0,
          revenue: 0,
          codes: new Set(),
          currency: r.currency,
        };
        e.quantity += i.quantity;
        e.revenue += i.total;
        e.codes.add(r.code);
        byKey.set(k, e);
      }
    }
    const expected = [...byKey.values()]
      .sort((a, b) => b.revenue - a.revenue)
      .map(({ codes, ...e }) => ({ ...e, receipts: codes.size }));
    const res = await get<{ items: unknown[] }>(
      `/v1/tenants/${f.tenantId}/analytics/items?from=${FROM}&to=${TO}&limit=100`,
    );
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual(expected);
    const top2 = await get<{ items: unknown[] }>(
      `/v1/tenants/${f.tenantId}/analytics/items?from=${FROM}&to=${TO}&limit=2`,
    );
    expect(top2.body.items).toEqual(expected.slice(0, 2));
  });
});

describe("the daily tax export", () => {
  it("gives one row per store, currency and rate with the contract's rounding, and a file name", async () => {
    const date = "2026-03-29";
    const rows = (await raw()).filter((r) => inRange(r, date, date));
    const groups = new Map<
      string,
      { store: string; currency: string; rate: string; codes: Set<string>; gross: number }
    >();
    for (const r of rows) {
      for (const i of r.items) {
        const rate = i.taxRate === undefined ? "" : String(i.taxRate);
        const k = `${r.store_id}|${r.currency}|${rate}`;
        const g = groups.get(k) ?? { store: r.store_id, currency: r.currency, rate, codes: new Set(), gross: 0 };
        g.codes.add(r.code);
        g.gross += i.total;
        groups.set(k, g);
      }
    }
    const lines = [...groups.values()]
      .sort((a, b) =>
        a.store !== b.store
          ? a.store < b.store
            ? -1
            : 1
          : a.currency !== b.currency
            ? a.currency < b.currency
              ? -1
              : 1
            : a.rate === ""
              ? 1
              : b.rate === ""
                ? -1
                : Number(a.rate) - Number(b.rate),
      )
      .map((g) => {
        const { net, tax } = splitTax(BigInt(g.gross), g.rate);
        return `${g.store},${date},${g.currency},${g.rate},${g.codes.size},${g.gross},${net},${tax}`;
      });
    const res = await get(`/v1/tenants/${f.tenantId}/exports/daily.csv?date=${date}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="tillproof-${f.tenantId}-${date}.csv"`);
    expect(res.text.split("\r\n")).toEqual(["store_id,date,currency,tax_rate,receipts,gross,net,tax", ...lines, ""]);
    // Berlin's cake: half of 401 = 201 (rounded) at 7 %: net round(20100 / 107) = 188, tax 13.
    expect(res.text).toContain(`${f.storeId},${date},EUR,7,1,201,188,13`);
  });
});

describe("the operator's view", () => {
  it("sums receipts and gross per tenant and currency", async () => {
    const rows = (await raw()).filter((r) => inRange(r, FROM, TO));
    const res = await get<{ tenants: { tenantId: string; currency: string; receipts: number; gross: number }[] }>(
      `/v1/ops/analytics/tenants?from=${FROM}&to=${TO}`,
      OPERATOR_TOKEN,
    );
    expect(res.status).toBe(200);
    const mine = res.body.tenants.filter((t) => t.tenantId === f.tenantId);
    const expected = ["EUR", "INR", "USD"].map((currency) => {
      const of = rows.filter((r) => r.currency === currency);
      return { tenantId: f.tenantId, currency, receipts: of.length, gross: of.reduce((s, r) => s + r.total, 0) };
    });
    expect(mine).toEqual(expected);
    expect((await get(`/v1/ops/analytics/tenants?from=${FROM}&to=${TO}`)).status).toBe(401);
  });
});

describe("bad requests and other tenants", () => {
  it("answers 400 for bad ranges and parameters, 401 without a key, 403 for another tenant's key", async () => {
    const base = `/v1/tenants/${f.tenantId}/analytics`;
    for (const q of [
      "sales?from=2026-03-02&to=2026-03-01",
      "sales?from=2025-01-01&to=2026-01-03",
      "sales?from=2026-02-30&to=2026-03-01",
      "sales?from=2026-03-01",
      "sales?from=2026-03-01&to=2026-03-02&granularity=week",
      "sales?from=2026-03-01&to=2026-03-02&storeId=Not%20a%20store",
      "items?from=2026-03-01&to=2026-03-02&limit=0",
      "items?from=2026-03-01&to=2026-03-02&limit=101",
    ]) {
      const res = await get<{ error: { code: string } }>(`${base}/${q}`);
      expect([q, res.status, res.body.error.code]).toEqual([q, 400, "validation_failed"]);
    }
    expect((await get(`/v1/tenants/${f.tenantId}/exports/daily.csv?date=yesterday`)).status).toBe(400);
    expect((await call("GET", `${base}/sales?from=${FROM}&to=${TO}`)).status).toBe(401);
    const other = await fixture();
    const res = await get(`${base}/sales?from=${FROM}&to=${TO}`, other.apiKey);
    expect(res.status).toBe(403);
    expect((await get(`/v1/tenants/${f.tenantId}/exports/daily.csv?date=2026-03-29`, other.apiKey)).status).toBe(403);
  });
});

describe("upkeep", () => {
  const snapshot = async () =>
    Promise.all(
      ["sales_rollup", "tax_rollup", "item_rollup"].map((t) =>
        sqlQuery(`SELECT * FROM ${t} WHERE tenant_id = $1 ORDER BY 1, 2, 3, 4, 5, 6`, [f.tenantId]),
      ),
    );

  it("counts a redelivered receipt once", async () => {
    const before = await snapshot();
    const rows = await sqlQuery<RecordRow>(`SELECT ${recordColumns()} FROM receipts WHERE tenant_id = $1`, [
      f.tenantId,
    ]);
    const message: OutboxMessage = {
      v: 1,
      shard: 14,
      receipts: rows.map((r, i) => ({
        counter: 14_900_000 + i,
        hash: r.hash,
        record: canonicalJson(recordFromRow(r)),
      })),
    };
    const batch = createMessageBatch<OutboxMessage>("tillproof-receipts", [
      { id: `again-${f.tenantId}`, timestamp: new Date(), attempts: 2, body: message },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await snapshot()).toEqual(before);
  });

  it("shows a receipt as soon as Postgres has it", async () => {
    const code = (
      await issue(f.token, saleOf("2026-03-31T09:00:00Z", "EUR", [item("Tea", 1, 300, { sku: "T1" })], ["cash"]))
    ).body.code.replaceAll("-", "");
    await eventually(async () => (await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [code]))[0]);
    const res = await get<{ series: { receipts: number }[] }>(
      `/v1/tenants/${f.tenantId}/analytics/sales?from=2026-03-31&to=2026-03-31`,
    );
    expect(res.body.series).toEqual([expect.objectContaining({ start: "2026-03-31", receipts: 1, gross: 300 })]);
  });

  it("rebuilds a range of days to exactly what the consumer kept, and again to the same", async () => {
    const kept = await snapshot();
    const pg = openPg({ DATABASE_URL: env.TEST_ADMIN_DATABASE_URL, NEON_WS_PROXY: env.NEON_WS_PROXY });
    const client = await pg.pool.connect();
    try {
      // The session's own time zone must not move hours or days (hours are UTC, days the store's).
      await client.query("SET TIME ZONE 'Asia/Kolkata'");
      // An insider's edit of a rollup is undone by the rebuild, which reads only receipts.
      await client.query("UPDATE sales_rollup SET gross = gross + 1 WHERE tenant_id = $1", [f.tenantId]);
      const first = await rebuildRollups(dbOf(client), FROM, TO);
      expect(first.receipts).toBeGreaterThanOrEqual(BERLIN.length + KOLKATA.length + 1);
      expect(await snapshot()).toEqual(kept);
      await rebuildRollups(dbOf(client), FROM, TO);
      expect(await snapshot()).toEqual(kept);
      // Once a day is archived its receipts are in R2 only: a rebuild reaching it is refused, and wipes nothing.
      await client.query("INSERT INTO archive_days (day, state) VALUES ($1::date - 1, 'dropped')", [TO]);
      try {
        await expect(rebuildRollups(dbOf(client), FROM, TO)).rejects.toThrow(/archived/);
        expect(await snapshot()).toEqual(kept);
        // Read from R2 when one day was dropped; an older day dropped before the rebuild locks: refused too.
        // (`through` is all a guard on the newest dropped day alone would compare: unchanged here.)
        const read = { dropped: await droppedDaysMark(dbOf(client)), through: TO };
        await client.query("INSERT INTO archive_days (day, state) VALUES ($1::date - 30, 'dropped')", [TO]);
        await expect(rebuildRollups(dbOf(client), FROM, TO, read)).rejects.toThrow(/archived since/);
        expect(await snapshot()).toEqual(kept);
      } finally {
        await client.query("DELETE FROM archive_days WHERE day IN ($1::date - 1, $1::date - 30)", [TO]);
      }
    } finally {
      client.release();
      await pg.end();
    }
  });
});
