/**
 * Retail analytics, the pure parts (contract v1.1 "Retail analytics"): date
 * ranges, the bookkeeper's net/tax split with its rounding rule, the daily
 * CSV's order and text, and how rollup rows become the sales series.
 */
import { z } from "zod";
import { slug } from "./ids.ts";

export const MAX_RANGE_DAYS = 366;

/** A real calendar date, YYYY-MM-DD, from 2000 on (no receipt is older: core/receipt.ts). */
export const isoDate = z
  .string()
  .regex(/^(2\d{3}|[3-9]\d{3})-\d{2}-\d{2}$/, "must be a date from 2000 on, YYYY-MM-DD")
  .refine(
    (d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d),
    {
      message: "is not a calendar date",
    },
  );

const dayNumber = (d: string) => Date.parse(`${d}T00:00:00Z`) / 86_400_000;

/**
 * from ≤ to, at most 366 days apart; judged only when both are real dates
 * (otherwise their own errors say so, once).
 */
function checkRange(r: { from: string; to: string }, ctx: z.RefinementCtx): void {
  if (!isoDate.safeParse(r.from).success || !isoDate.safeParse(r.to).success) return;
  const [from, to] = [dayNumber(r.from), dayNumber(r.to)];
  if (from > to) ctx.addIssue({ code: "custom", message: "from must not be after to", path: ["to"] });
  else if (to - from > MAX_RANGE_DAYS) {
    ctx.addIssue({ code: "custom", message: `from and to may be at most ${MAX_RANGE_DAYS} days apart`, path: ["to"] });
  }
}

export const dateRange = z.object({ from: isoDate, to: isoDate }).superRefine(checkRange);

export const salesQuery = z
  .object({
    from: isoDate,
    to: isoDate,
    granularity: z.enum(["day", "hour"]).default("day"),
    storeId: slug.optional(),
  })
  .superRefine(checkRange);

export const itemsQuery = z
  .object({
    from: isoDate,
    to: isoDate,
    storeId: slug.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .superRefine(checkRange);

export const dailyExportQuery = z.object({ date: isoDate, storeId: slug.optional() });

/** The key byTaxRate uses for items sold without a tax rate (the CSV leaves the rate empty). */
export const NO_RATE = "none";

/**
 * Net and tax of a gross amount at a percentage rate given as decimal text
 * ("19", "7.7"; "" for none): net = round(gross × 100 / (100 + rate)), halves
 * away from zero, and tax = gross − net. Exact, in integers.
 */
export function splitTax(gross: bigint, rate: string): { net: bigint; tax: bigint } {
  if (rate === "") return { net: gross, tax: 0n };
  const m = /^(\d+)(?:\.(\d+))?$/.exec(rate);
  if (!m) throw new Error(`not a tax rate: ${rate}`);
  const frac = m[2] ?? "";
  const scale = 10n ** BigInt(frac.length);
  const r = BigInt((m[1] ?? "0") + frac); // rate × scale
  const num = gross * 100n * scale;
  const den = 100n * scale + r;
  const negative = num < 0n;
  const a = negative ? -num : num;
  const rounded = (2n * a + den) / (2n * den); // floor(a/den + 1/2): halves up, on the magnitude
  const net = negative ? -rounded : rounded;
  return { net, tax: gross - net };
}

/** One store, currency and rate of a day: its sales (voids taken out) and its refunds. */
export type TaxRow = {
  storeId: string;
  currency: string;
  rate: string;
  receipts: number;
  gross: bigint;
  refunds: number;
  refunded: bigint;
};

const CSV_HEADER = "store_id,date,currency,tax_rate,receipts,gross,net,tax";

/** A CSV field: quoted when it holds a comma, quote or line break. */
function field(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/**
 * Rows by store_id, currency, then rate (numeric, empty last); a rate's
 * refunds are a row of their own right after its sales, with negative gross,
 * net and tax and `receipts` counting the refunds. A rate whose sales were all
 * voided has no sale row.
 */
export function dailyCsv(date: string, rows: TaxRow[]): string {
  const sorted = [...rows].sort(
    (a, b) =>
      (a.storeId < b.storeId ? -1 : a.storeId > b.storeId ? 1 : 0) ||
      (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0) ||
      (a.rate === "" ? 1 : 0) - (b.rate === "" ? 1 : 0) ||
      Number(a.rate) - Number(b.rate),
  );
  const line = (r: TaxRow, receipts: number, gross: bigint) => {
    const { net, tax } = splitTax(gross, r.rate);
    return [r.storeId, date, r.currency, r.rate, String(receipts), String(gross), String(net), String(tax)]
      .map(field)
      .join(",");
  };
  const lines = sorted.flatMap((r) => [
    ...(r.receipts !== 0 || r.gross !== 0n ? [line(r, r.receipts, r.gross)] : []),
    ...(r.refunds > 0 ? [line(r, r.refunds, -r.refunded)] : []),
  ]);
  return `${[CSV_HEADER, ...lines].join("\r\n")}\r\n`;
}

export type SalesBucket = {
  start: string;
  storeId: string;
  currency: string;
  receipts: number;
  gross: number;
  byPayment: { cash: number; card: number; other: number };
  byTaxRate: Record<string, number>;
  refunds: number;
  refunded: number;
  net: number;
};

export type SalesRow = Omit<SalesBucket, "byTaxRate" | "byPayment" | "net"> & {
  cash: number;
  card: number;
  other: number;
};
export type SalesTaxRow = { start: string; storeId: string; currency: string; rate: string; gross: number };

/**
 * The series: one bucket per (start, store, currency) with sales or refunds
 * (a bucket whose sales were all voided is gone), ordered by start, store, currency.
 */
export function salesSeries(rows: SalesRow[], tax: SalesTaxRow[]): SalesBucket[] {
  const key = (r: { start: string; storeId: string; currency: string }) => `${r.start}|${r.storeId}|${r.currency}`;
  const buckets = new Map<string, SalesBucket>();
  for (const r of rows) {
    if (r.receipts === 0 && r.refunds === 0) continue;
    buckets.set(key(r), {
      start: r.start,
      storeId: r.storeId,
      currency: r.currency,
      receipts: r.receipts,
      gross: r.gross,
      byPayment: { cash: r.cash, card: r.card, other: r.other },
      byTaxRate: {},
      refunds: r.refunds,
      refunded: r.refunded,
      net: r.gross - r.refunded,
    });
  }
  for (const t of tax) {
    const b = buckets.get(key(t));
    if (b && t.gross !== 0) b.byTaxRate[t.rate === "" ? NO_RATE : t.rate] = t.gross;
  }
  return [...buckets.values()].sort(
    (a, b) =>
      (a.start < b.start ? -1 : a.start > b.start ? 1 : 0) ||
      (a.storeId < b.storeId ? -1 : a.storeId > b.storeId ? 1 : 0) ||
      (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0),
  );
}
