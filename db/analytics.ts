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

export async function salesRows(
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
export async function topItems(db: Db, r: Range & { limit: number }): Promise<TopItem[]> {
  const { rows } = await db.execute<Record<string, string | null>>(sql`
    SELECT min(sku) AS sku, min(name) AS name, currency, sum(quantity)::text AS quantity,
           sum(revenue) AS revenue, sum(receipts) AS receipts
      FROM item_rollup WHERE ${where(r)}
     GROUP BY item_key, currency HAVING sum(receipts) <> 0
     ORDER BY sum(revenue) DESC, item_key, currency
     LIMIT ${r.limit}`);
  return rows.map((x) => ({
    sku: x.sku ?? null,
    name: String(x.name),
    quantity: Number(x.quantity),
    revenue: Number(x.revenue),
    receipts: Number(x.receipts),
    currency: String(x.currency),
  }));
}

/** One store-local day's gross and receipts per store, currency and tax rate. */
export async function dailyTaxRows(db: Db, r: { tenantId: string; date: string; storeId?: string }): Promise<TaxRow[]> {
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
export async function tenantTotals(db: Db, from: string, to: string): Promise<TenantTotal[]> {
  const { rows } = await db.execute<Record<string, string>>(sql`
    SELECT tenant_id, currency, sum(receipts) AS receipts, sum(gross) AS gross
      FROM sales_rollup WHERE day BETWEEN ${from}::date AND ${to}::date
     GROUP BY 1, 2 HAVING sum(receipts) <> 0 ORDER BY 1, 2`);
  return rows.map((x) => ({
    tenantId: String(x.tenant_id),
    currency: String(x.currency),
    receipts: Number(x.receipts),
    gross: Number(x.gross),
  }));
}
