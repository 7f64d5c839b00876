/** Reads of the analytics rollups (migrations/0012): every query names one tenant and a range of store-local days. */
import { type SQL, sql } from "drizzle-orm";
import type { SalesRow, SalesTaxRow, TaxRow } from "../core/analytics.ts";
import type { Db } from "./client.ts";

type Range = { tenantId: string; from: string; to: string; storeId?: string | undefined };

const where = (r: Range): SQL =>
  sql`tenant_id = ${r.tenantId} AND day BETWEEN ${r.from}::date AND ${r.to}::date${
    r.storeId ? sql` AND store_id = ${r.storeId}` : sql``
  }`;

/** Buckets as text: a store-local date, or a UTC hour in ISO form. */
const bucket = (granularity: "day" | "hour"): SQL =>
  granularity === "day"
    ? sql.raw(`to_char(day, 'YYYY-MM-DD')`)
    : sql.raw(`to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"')`);

/**
 * Every read takes the receipts databases (db/routing.ts) and adds their rows
 * up: a store lives on one shard, but around a re-split its local day may
 * span two layouts, so the same bucket can come from two databases.
 */
export async function salesRows(
  dbs: Db[],
  r: Range & { granularity: "day" | "hour" },
): Promise<{ rows: SalesRow[]; tax: SalesTaxRow[] }> {
  const parts = await Promise.all(dbs.map((db) => salesRowsOf(db, r)));
  const rows = parts.flatMap((p) => p.rows);
  const tax = parts.flatMap((p) => p.tax);
  if (parts.length === 1) return { rows, tax };
  const salesKey = (x: SalesRow) => `${x.start}|${x.storeId}|${x.currency}`;
  return {
    rows: sumBy(rows, salesKey, (a, b) => ({
      ...a,
      receipts: a.receipts + b.receipts,
      gross: a.gross + b.gross,
      cash: a.cash + b.cash,
      card: a.card + b.card,
      other: a.other + b.other,
      refunds: a.refunds + b.refunds,
      refunded: a.refunded + b.refunded,
    })),
    tax: sumBy(
      tax,
      (x) => `${x.start}|${x.storeId}|${x.currency}|${x.rate}`,
      (a, b) => ({ ...a, gross: a.gross + b.gross }),
    ),
  };
}

/** Rows with equal keys folded into one by `add`, in first-seen order. */
function sumBy<T>(rows: T[], key: (row: T) => string, add: (a: T, b: T) => T): T[] {
  const out = new Map<string, T>();
  for (const row of rows) {
    const k = key(row);
    const seen = out.get(k);
    out.set(k, seen === undefined ? row : add(seen, row));
  }
  return [...out.values()];
}

async function salesRowsOf(
  db: Db,
  r: Range & { granularity: "day" | "hour" },
): Promise<{ rows: SalesRow[]; tax: SalesTaxRow[] }> {
  const b = bucket(r.granularity);
  const [sales, tax] = await Promise.all([
    db.execute<Record<string, string>>(sql`
      SELECT ${b} AS start, store_id, currency, sum(receipts) AS receipts, sum(gross) AS gross,
             sum(cash) AS cash, sum(card) AS card, sum(other) AS other,
             sum(refunds) AS refunds, sum(refunded) AS refunded
        FROM sales_rollup WHERE ${where(r)} GROUP BY 1, 2, 3`),
    db.execute<Record<string, string>>(sql`
      SELECT ${b} AS start, store_id, currency, rate, sum(gross) AS gross
        FROM tax_rollup WHERE ${where(r)} GROUP BY 1, 2, 3, 4`),
  ]);
  return {
    rows: sales.rows.map((x) => ({
      start: String(x.start),
      storeId: String(x.store_id),
      currency: String(x.currency),
      receipts: Number(x.receipts),
      gross: Number(x.gross),
      cash: Number(x.cash),
      card: Number(x.card),
      other: Number(x.other),
      refunds: Number(x.refunds),
      refunded: Number(x.refunded),
    })),
    tax: tax.rows.map((x) => ({
      start: String(x.start),
      storeId: String(x.store_id),
      currency: String(x.currency),
      rate: String(x.rate),
      gross: Number(x.gross),
    })),
  };
}

export type TopItem = {
  sku: string | null;
  name: string;
  quantity: number;
  revenue: number;
  receipts: number;
  currency: string;
};

/** By revenue, highest first (ties by key, then currency, so pages are stable). */
export async function topItems(dbs: Db[], r: Range & { limit: number }): Promise<TopItem[]> {
  const [only] = dbs;
  if (dbs.length === 1 && only) return (await itemsOf(only, r, r.limit)).map(({ key: _, ...item }) => item);
  // Several databases: every item of each, added up, then ranked (a per-database top N is not the top N).
  const all = (await Promise.all(dbs.map((db) => itemsOf(db, r, null)))).flat();
  const summed = sumBy(
    all,
    (x) => `${x.key}|${x.currency}`,
    (a, b) => ({
      ...a,
      // min(sku) and min(name), as each database's GROUP BY took them.
      sku: a.sku !== null && b.sku !== null ? least(a.sku, b.sku) : (a.sku ?? b.sku),
      name: least(a.name, b.name),
      quantity: a.quantity + b.quantity,
      revenue: a.revenue + b.revenue,
      receipts: a.receipts + b.receipts,
    }),
  );
  return summed
    .filter((x) => x.receipts !== 0)
    .sort((a, b) => b.revenue - a.revenue || cmp(a.key, b.key) || cmp(a.currency, b.currency))
    .slice(0, r.limit)
    .map(({ key: _, ...item }) => item);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const least = (a: string, b: string) => (cmp(a, b) <= 0 ? a : b);

/** One database's items (each with its key), top `limit` of them, or all (null) unsummed by HAVING. */
async function itemsOf(db: Db, r: Range, limit: number | null): Promise<(TopItem & { key: string })[]> {
  const { rows } = await db.execute<Record<string, string | null>>(sql`
    SELECT item_key, min(sku) AS sku, min(name) AS name, currency, sum(quantity)::text AS quantity,
           sum(revenue) AS revenue, sum(receipts) AS receipts
      FROM item_rollup WHERE ${where(r)}
     GROUP BY item_key, currency ${
       limit === null
         ? sql``
         : sql`HAVING sum(receipts) <> 0
     ORDER BY sum(revenue) DESC, item_key, currency
     LIMIT ${limit}`
     }`);
  return rows.map((x) => ({
    key: String(x.item_key),
    sku: x.sku ?? null,
    name: String(x.name),
    quantity: Number(x.quantity),
    revenue: Number(x.revenue),
    receipts: Number(x.receipts),
    currency: String(x.currency),
  }));
}

/** One store-local day's gross and receipts per store, currency and tax rate. */
export async function dailyTaxRows(
  dbs: Db[],
  r: { tenantId: string; date: string; storeId?: string },
): Promise<TaxRow[]> {
  const rows = (await Promise.all(dbs.map((db) => dailyTaxRowsOf(db, r)))).flat();
  return sumBy(
    rows,
    (x) => `${x.storeId}|${x.currency}|${x.rate}`,
    (a, b) => ({
      ...a,
      receipts: a.receipts + b.receipts,
      gross: a.gross + b.gross,
      refunds: a.refunds + b.refunds,
      refunded: a.refunded + b.refunded,
    }),
  );
}

async function dailyTaxRowsOf(db: Db, r: { tenantId: string; date: string; storeId?: string }): Promise<TaxRow[]> {
  const { rows } = await db.execute<Record<string, string>>(sql`
    SELECT store_id, currency, rate, sum(receipts) AS receipts, sum(gross)::text AS gross,
           sum(refunds) AS refunds, sum(refunded)::text AS refunded
      FROM tax_rollup WHERE ${where({ ...r, from: r.date, to: r.date })}
     GROUP BY 1, 2, 3`);
  return rows.map((x) => ({
    storeId: String(x.store_id),
    currency: String(x.currency),
    rate: String(x.rate),
    receipts: Number(x.receipts),
    gross: BigInt(String(x.gross)),
    refunds: Number(x.refunds),
    refunded: BigInt(String(x.refunded)),
  }));
}

export type TenantTotal = { tenantId: string; currency: string; receipts: number; gross: number };

/** The operator's fiscal view: per tenant and currency, over store-local days. */
export async function tenantTotals(dbs: Db[], from: string, to: string): Promise<TenantTotal[]> {
  const [only] = dbs;
  if (dbs.length === 1 && only) return tenantTotalsOf(only, from, to);
  const rows = (await Promise.all(dbs.map((db) => tenantTotalsOf(db, from, to, false)))).flat();
  return sumBy(
    rows,
    (x) => `${x.tenantId}|${x.currency}`,
    (a, b) => ({ ...a, receipts: a.receipts + b.receipts, gross: a.gross + b.gross }),
  )
    .filter((x) => x.receipts !== 0)
    .sort((a, b) => cmp(a.tenantId, b.tenantId) || cmp(a.currency, b.currency));
}

async function tenantTotalsOf(db: Db, from: string, to: string, nonZero = true): Promise<TenantTotal[]> {
  const { rows } = await db.execute<Record<string, string>>(sql`
    SELECT tenant_id, currency, sum(receipts) AS receipts, sum(gross) AS gross
      FROM sales_rollup WHERE day BETWEEN ${from}::date AND ${to}::date
     GROUP BY 1, 2 ${nonZero ? sql`HAVING sum(receipts) <> 0` : sql``} ORDER BY 1, 2`);
  return rows.map((x) => ({
    tenantId: String(x.tenant_id),
    currency: String(x.currency),
    receipts: Number(x.receipts),
    gross: Number(x.gross),
  }));
}
