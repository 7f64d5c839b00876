/**
 * The audit's rollups check (`npm run audit -- --rollups`, #26): every
 * store-local day's analytics figures (what the tax CSV and the dashboards
 * read) recomputed from the receipts and compared with the stored rollups.
 * The arithmetic here is the auditor's own, apart from the database function
 * that keeps the rollups (migrations/0018), so a fault in either shows. The
 * receipts and the rollups are read in one snapshot, so receipts landing
 * meanwhile never look like a difference; the main audit checks those same
 * receipts against the signed log.
 */
import type pg from "pg";
import type { ChainRecord } from "../../../core/receipt.ts";
import { archivedThrough } from "../../../db/archive.ts";
import { nodeDb } from "../db.ts";
import type { Problem } from "./shard-audit.ts";

/** One receipt as the rollups count it: the store-local day it is booked on (a void on its sale's). */
export type Fact = {
  code: string;
  tenant_id: string;
  store_id: string;
  currency: string;
  day: string;
  kind: "sale" | "refund" | "void";
  total: string;
  items: ChainRecord["items"];
  payments: ChainRecord["payments"];
};

const SALES = ["receipts", "gross", "cash", "card", "other", "refunds", "refunded"] as const;
const TAX = ["receipts", "gross", "refunds", "refunded"] as const;
const ITEM = ["quantity", "revenue", "receipts"] as const;
type Figures<F extends string = string> = Record<F, number>;
type SalesFigures = Figures<(typeof SALES)[number]>;
type TaxFigures = Figures<(typeof TAX)[number]>;
type ItemFigures = Figures<(typeof ITEM)[number]>;

/** The figures of a set of receipts, by the rollups' keys summed over hours (store, currency, day; and rate or item). */
export class Tally {
  readonly sales = new Map<string, SalesFigures>();
  readonly tax = new Map<string, TaxFigures>();
  readonly items = new Map<string, ItemFigures>();
  count = 0;

  add(f: Fact): void {
    this.count++;
    const day = [f.tenant_id, f.store_id, f.currency, f.day];
    const total = Number(f.total);
    const sgn = f.kind === "void" ? -1 : 1;
    const s = bucket(this.sales, day, SALES);
    if (f.kind === "refund") {
      s.refunds += 1;
      s.refunded += total;
    } else {
      s.receipts += sgn;
      s.gross += sgn * total;
      for (const p of f.payments) s[p.method] += sgn * p.amount;
    }
    // Per rate and per item, a receipt counts once however many of its lines fall there.
    const rates = new Set<string>();
    const items = new Set<string>();
    for (const i of f.items) {
      const rate = i.taxRate === undefined ? "" : String(i.taxRate);
      const t = bucket(this.tax, [...day, rate], TAX);
      if (f.kind === "refund") t.refunded += i.total;
      else t.gross += sgn * i.total;
      if (!rates.has(rate)) {
        rates.add(rate);
        if (f.kind === "refund") t.refunds += 1;
        else t.receipts += sgn;
      }
      if (f.kind === "refund") continue;
      const key = i.sku !== undefined ? `s:${i.sku}` : `n:${i.name}`;
      const it = bucket(this.items, [...day, key], ITEM);
      it.quantity += sgn * i.quantity;
      it.revenue += sgn * i.total;
      if (!items.has(key)) {
        items.add(key);
        it.receipts += sgn;
      }
    }
  }
}

function bucket<F extends string>(map: Map<string, Figures<F>>, key: string[], fields: readonly F[]): Figures<F> {
  const k = key.join("\u0000");
  let b = map.get(k);
  if (!b) {
    b = Object.fromEntries(fields.map((f) => [f, 0])) as Figures<F>;
    map.set(k, b);
  }
  return b;
}

/** Stored rollup rows, summed over hours to the same keys as a Tally. */
export type Stored = { sales: Map<string, Figures>; tax: Map<string, Figures>; items: Map<string, Figures> };

/**
 * Every key whose figures differ (a missing row counts as all zeros). Amounts
 * are exact integers; quantities may be fractional, so they compare to 1e-6.
 */
export function compareRollups(tally: Tally, stored: Stored): Problem[] {
  const out: Problem[] = [];
  const tables: [string, Map<string, Figures>, Map<string, Figures>, readonly string[]][] = [
    ["sales", tally.sales, stored.sales, SALES],
    ["tax", tally.tax, stored.tax, TAX],
    ["items", tally.items, stored.items, ITEM],
  ];
  for (const [table, mine, theirs, fields] of tables) {
    for (const key of new Set([...mine.keys(), ...theirs.keys()])) {
      const a = mine.get(key);
      const b = theirs.get(key);
      const off = fields.filter((f) => Math.abs((a?.[f] ?? 0) - (b?.[f] ?? 0)) > 1e-6);
      if (!off.length) continue;
      const [tenant, store, currency, day, sub] = key.split("\u0000");
      out.push({
        kind: "rollup",
        code: `${tenant}/${store} ${currency} ${day}${sub === undefined ? "" : ` ${table === "tax" ? `rate '${sub}'` : sub}`}`,
        detail: `${table} rollup differs from its receipts: ${off
          .map((f) => `${f} ${b?.[f] ?? 0} stored, ${a?.[f] ?? 0} recomputed`)
          .join("; ")}`,
      });
    }
  }
  return out;
}

const PAGE = 5_000;

/** Booked day as the rollups book it: the store's zone (UTC if unknown), a void at its sale's time. */
const FACTS = `
  SELECT r.code, r.tenant_id, r.store_id, r.currency, coalesce(r.kind, 'sale') AS kind, r.total::text AS total,
         r.items, r.payments,
         ((CASE WHEN r.kind = 'void' THEN coalesce(
             (SELECT o.issued_at FROM receipts o WHERE o.code = r.refers_to LIMIT 1), r.issued_at)
           ELSE r.issued_at END) AT TIME ZONE coalesce(z.name, 'UTC'))::date::text AS day
    FROM receipts r
    LEFT JOIN stores s ON s.tenant_id = r.tenant_id AND s.id = r.store_id
    LEFT JOIN time_zones z ON z.name = s.timezone`;

const STORED = {
  sales: `SELECT tenant_id, store_id, currency, day::text, ${SALES.map((f) => `sum(${f})::float8 AS ${f}`).join(", ")}
            FROM sales_rollup GROUP BY 1, 2, 3, 4`,
  tax: `SELECT tenant_id, store_id, currency, day::text, rate AS sub, ${TAX.map((f) => `sum(${f})::float8 AS ${f}`).join(", ")}
          FROM tax_rollup GROUP BY 1, 2, 3, 4, 5`,
  items: `SELECT tenant_id, store_id, currency, day::text, item_key AS sub, ${ITEM.map((f) => `sum(${f})::float8 AS ${f}`).join(", ")}
            FROM item_rollup GROUP BY 1, 2, 3, 4, 5`,
};

/**
 * Recomputes every day's rollups from the receipts in Postgres and compares, in
 * one read-only snapshot. Days whose receipts were archived (a store's day may
 * straddle two UTC days: through the day after the last one dropped) keep
 * rollups with no rows under them and are left out (`archivedThrough`).
 */
export async function rollupProblems(
  pool: pg.Pool,
): Promise<{ receipts: number; days: number; problems: Problem[]; archivedThrough: string | null }> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query(`DECLARE facts NO SCROLL CURSOR FOR ${FACTS}`);
    const tally = new Tally();
    for (;;) {
      const { rows } = await client.query<Fact>(`FETCH ${PAGE} FROM facts`);
      for (const f of rows) tally.add(f);
      if (rows.length < PAGE) break;
    }
    const stored: Stored = { sales: new Map(), tax: new Map(), items: new Map() };
    for (const [table, fields] of [
      ["sales", SALES],
      ["tax", TAX],
      ["items", ITEM],
    ] as const) {
      const { rows } = await client.query<Record<string, string | number>>(STORED[table]);
      for (const r of rows) {
        const key = [r.tenant_id, r.store_id, r.currency, r.day, ...(r.sub === undefined ? [] : [r.sub])].join(
          "\u0000",
        );
        stored[table].set(key, Object.fromEntries(fields.map((f) => [f, Number(r[f])])));
      }
    }
    const through = await archivedThrough(nodeDb(client));
    await client.query("COMMIT");
    if (through) {
      for (const map of [tally.sales, tally.tax, tally.items, stored.sales, stored.tax, stored.items]) {
        for (const key of map.keys()) if ((key.split("\u0000")[3] ?? "") <= through) map.delete(key);
      }
    }
    return {
      receipts: tally.count,
      days: tally.sales.size,
      problems: compareRollups(tally, stored),
      archivedThrough: through,
    };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}
