/**
 * `npm run bench:rollups`: what the analytics rollups, and a webhook, add to
 * the consumer's INSERT. The same realistic batches (100 receipts, ≈ 5 items
 * each, 200 stores in several time zones) go through a raw COPY (the
 * ceiling), the receipts-only INSERT (the baseline), the product's statement
 * for tenants without webhooks (the rollups), the same INSERT with the batch
 * folded into its buckets in memory and one upsert per bucket instead (the
 * plan the record-store issue proposed), and the product's statement for
 * tenants with one webhook (rollups and a delivery row per receipt),
 * alternating in rounds within one run; it prints the time per
 * receipt of each, their ratios and shares of COPY, how many rollup rows a
 * batch touches per receipt (what folding a batch in memory could save), the
 * rollup and delivery bytes per receipt, and what that costs per million
 * receipts at Neon's list price.
 *
 *   npm run bench:rollups                 # embedded Postgres
 *   npm run bench:rollups -- --rounds 8   # more rounds (default 6, 20 batches each)
 *   npm run bench:rollups -- --spread-hours 1   # issued within the last hour, as a live batch is (default a week)
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import pg from "pg";
import { canonicalJson } from "../core/canonical.ts";
import { encodeCode } from "../core/code.ts";
import type { OutboxReceipt } from "../core/outbox.ts";
import { buildRecord, GENESIS_HASH, parseReceipt } from "../core/receipt.ts";
import { batchJson, insertReceipts, insertReceiptsCte } from "../db/receipts.ts";
import { sha256Hex } from "../kit/crypto.ts";
import { COPY_COLUMNS, copyFrom, copyLine } from "./lib/bench/copy.ts";
import { ASSUMPTIONS, PRICES } from "./lib/bench/prices.ts";
import { makeSale, rng } from "./lib/bench/receipts.ts";
import { nodeDb } from "./lib/db.ts";
import { applyMigrations } from "./lib/stack/migrate.ts";
import { freePort } from "./lib/stack/ports.ts";
import { startEmbeddedPostgres } from "./lib/stack/postgres.ts";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "6" },
    batches: { type: "string", default: "20" },
    "spread-hours": { type: "string", default: String(7 * 24) },
  },
});
const ROUNDS = Number(args.rounds);
const BATCHES = Number(args.batches);
const BATCH = 100;
/** Receipts are issued up to this long before now: a week by default; 1 is what a live consumer batch holds. */
const SPREAD_MS = Number(args["spread-hours"]) * 3_600_000;
const STORES = 200;
const ZONES = ["Europe/Berlin", "Europe/London", "Asia/Kolkata", "America/New_York", "Europe/Zurich"];
type BenchRecord = {
  tenantId: string;
  storeId: string;
  currency: string;
  issuedAt: string;
  total: number;
  items: { sku?: string; name: string; taxRate?: number; quantity: number; total: number }[];
  payments: { method: string; amount: number }[];
};
const say = (line: string) => console.log(`[bench:rollups] ${line}`);

const server = process.env.DATABASE_URL
  ? null
  : await startEmbeddedPostgres({
      dir: resolve(import.meta.dirname, "../.data/bench-rollups-pg"),
      port: await freePort(),
      database: "postgres",
      ephemeral: true,
    });
const adminUrl = process.env.DATABASE_URL ?? server?.url ?? "";
const database = `tillproof_rollups_${process.pid}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const url = new URL(adminUrl);
url.pathname = `/${database}`;
try {
  await applyMigrations(url.toString());
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  const tenants = Array.from({ length: 20 }, (_, t) => `bench-t${t}`);
  for (const t of tenants) {
    await db.query("INSERT INTO tenants (id, name, api_key_hash) VALUES ($1, $1, repeat('0', 64))", [t]);
  }
  // The first half of the tenants mirror their sales to one webhook each.
  const hooked = (s: number) => s % tenants.length < tenants.length / 2;
  for (const t of tenants.slice(0, tenants.length / 2)) {
    await db.query(
      "INSERT INTO webhooks (tenant_id, id, url, events, store_ids, secret_salt) VALUES ($1, 'erp', 'https://erp.example.com/in', ARRAY['receipt.persisted'], NULL, 'salt')",
      [t],
    );
  }
  for (let s = 0; s < STORES; s++) {
    await db.query("INSERT INTO stores (tenant_id, id, name, timezone, shard) VALUES ($1, $2, $2, $3, 0)", [
      tenants[s % tenants.length],
      `s${s}`,
      ZONES[s % ZONES.length],
    ]);
  }

  // Receipts as the shard would send them: each store's own chain, realistic baskets.
  const r = rng(7);
  const heads = new Map<number, { seq: number; hash: string }>();
  let counter = 0;
  const now = Date.now();
  const nextBatch = (withWebhook: boolean): OutboxReceipt[] =>
    Array.from({ length: BATCH }, () => {
      let s = Math.floor(r() * STORES);
      while (hooked(s) !== withWebhook) s = Math.floor(r() * STORES);
      const head = heads.get(s) ?? { seq: 0, hash: GENESIS_HASH };
      const record = buildRecord({
        input: parseReceipt(makeSale(r, now - Math.floor(r() * SPREAD_MS)), now),
        code: encodeCode("bench-rollups", { shard: 0, counter: ++counter }),
        tenantId: tenants[s % tenants.length] as string,
        storeId: `s${s}`,
        terminalId: "till-1",
        seq: head.seq + 1,
        receivedAt: now,
        prevHash: head.hash,
      });
      const json = canonicalJson(record);
      const hash = sha256Hex(json);
      heads.set(s, { seq: head.seq + 1, hash });
      return { counter, hash, record: json };
    });

  // COPY (the ceiling) and the INSERT alone run with triggers off, so neither touches the rollups;
  // the product's statement has its trigger (migrations/0018) add each inserted row to the rollups.
  const orm = nodeDb(db);
  const insertOnly = (batch: OutboxReceipt[]) =>
    orm.execute(sql`WITH ${insertReceiptsCte(batchJson(batch))} SELECT count(*) AS inserted FROM ins`);
  /** Runs `fn` between two statements (a setting switched and switched back). */
  const between = (on: string, off: string) => async (fn: () => Promise<unknown>) => {
    await db.query(on);
    try {
      await fn();
    } finally {
      await db.query(off);
    }
  };
  const withoutTriggers = between("SET session_replication_role = replica", "SET session_replication_role = origin");
  // The plan the rollups issue proposed: fold the batch into its buckets in memory (here, as the
  // consumer would, with each store's zone known), then one upsert per bucket beside the INSERT.
  const zoneOf = (storeId: string) => ZONES[Number(storeId.slice(1)) % ZONES.length] as string;
  const dayFormats = new Map(ZONES.map((z) => [z, new Intl.DateTimeFormat("en-CA", { timeZone: z })]));
  const foldBatch = (batch: OutboxReceipt[]) => {
    const sales = new Map<string, Record<string, string | number>>();
    const tax = new Map<string, Record<string, string | number>>();
    const items = new Map<string, Record<string, string | number | null>>();
    for (const x of batch) {
      const rec = JSON.parse(x.record) as BenchRecord;
      const at = new Date(rec.issuedAt);
      const hour = `${rec.issuedAt.slice(0, 13)}:00:00Z`;
      const day = dayFormats.get(zoneOf(rec.storeId))?.format(at) ?? "";
      const key = `${rec.tenantId}|${rec.storeId}|${rec.currency}|${hour}|${day}`;
      const base = { tenant_id: rec.tenantId, store_id: rec.storeId, currency: rec.currency, hour, day };
      const sb = sales.get(key) ?? { ...base, receipts: 0, gross: 0, cash: 0, card: 0, other: 0 };
      sb.receipts = Number(sb.receipts) + 1;
      sb.gross = Number(sb.gross) + rec.total;
      for (const p of rec.payments) {
        const m = p.method === "cash" || p.method === "card" ? p.method : "other";
        sb[m] = Number(sb[m]) + p.amount;
      }
      sales.set(key, sb);
      const rates = new Set<string>();
      for (const i of rec.items) {
        const rate = i.taxRate === undefined ? "" : String(i.taxRate);
        const tb = tax.get(`${key}|${rate}`) ?? { ...base, rate, receipts: 0, gross: 0 };
        if (!rates.has(rate)) tb.receipts = Number(tb.receipts) + 1;
        rates.add(rate);
        tb.gross = Number(tb.gross) + i.total;
        tax.set(`${key}|${rate}`, tb);
        const itemKey = i.sku ? `s:${i.sku}` : `n:${i.name}`;
        const ik = `${rec.tenantId}|${rec.storeId}|${rec.currency}|${day}|${itemKey}`;
        const ib = items.get(ik) ?? {
          ...base,
          item_key: itemKey,
          sku: i.sku ?? null,
          name: i.name,
          quantity: 0,
          revenue: 0,
          receipts: 0,
        };
        ib.quantity = Number(ib.quantity) + i.quantity;
        ib.revenue = Number(ib.revenue) + i.total;
        ib.receipts = Number(ib.receipts) + 1;
        items.set(ik, ib);
      }
    }
    return { sales: [...sales.values()], tax: [...tax.values()], items: [...items.values()] };
  };
  const insertFolded = (batch: OutboxReceipt[]) => {
    const f = foldBatch(batch);
    return orm.execute(sql`WITH ${insertReceiptsCte(batchJson(batch))},
      s AS (INSERT INTO sales_rollup AS t (tenant_id, store_id, currency, hour, day, receipts, gross, cash, card, other)
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(f.sales)}::jsonb) AS b(tenant_id text, store_id text,
          currency text, hour timestamptz, day date, receipts bigint, gross bigint, cash bigint, card bigint, other bigint)
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (tenant_id, store_id, currency, hour, day) DO UPDATE SET receipts = t.receipts + excluded.receipts,
          gross = t.gross + excluded.gross, cash = t.cash + excluded.cash, card = t.card + excluded.card,
          other = t.other + excluded.other RETURNING 1),
      x AS (INSERT INTO tax_rollup AS t (tenant_id, store_id, currency, hour, day, rate, receipts, gross)
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(f.tax)}::jsonb) AS b(tenant_id text, store_id text,
          currency text, hour timestamptz, day date, rate text, receipts bigint, gross bigint)
        ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (tenant_id, store_id, currency, hour, day, rate) DO UPDATE SET
          receipts = t.receipts + excluded.receipts, gross = t.gross + excluded.gross RETURNING 1),
      i AS (INSERT INTO item_rollup AS t (tenant_id, store_id, currency, day, item_key, sku, name, quantity, revenue, receipts)
        SELECT tenant_id, store_id, currency, day, item_key, sku, name, quantity, revenue, receipts
          FROM jsonb_to_recordset(${JSON.stringify(f.items)}::jsonb) AS b(tenant_id text, store_id text, currency text,
            day date, item_key text, sku text, name text, quantity numeric, revenue bigint, receipts bigint)
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (tenant_id, store_id, currency, day, item_key) DO UPDATE SET quantity = t.quantity + excluded.quantity,
          revenue = t.revenue + excluded.revenue, receipts = t.receipts + excluded.receipts RETURNING 1)
      SELECT (SELECT count(*) FROM ins) + (SELECT count(*) FROM s) + (SELECT count(*) FROM x) + (SELECT count(*) FROM i) AS n`);
  };
  // Only the rollups' trigger is off: the INSERT keeps its others, as the product's statement does.
  const withoutRollupsTrigger = between(
    "ALTER TABLE receipts DISABLE TRIGGER receipts_to_rollups",
    "ALTER TABLE receipts ENABLE TRIGGER receipts_to_rollups",
  );
  const NAMES = ["COPY", "receipts only", "with rollups", "folded in memory", "with a webhook"] as const;
  type Name = (typeof NAMES)[number];
  const runs: Record<Name, (batches: OutboxReceipt[][]) => Promise<void>> = {
    COPY: (batches) =>
      withoutTriggers(async () => {
        await copyFrom(db, `COPY receipts (${COPY_COLUMNS.join(", ")}) FROM STDIN`, batches.flat().map(copyLine));
      }),
    "receipts only": (batches) =>
      withoutTriggers(async () => {
        for (const b of batches) await insertOnly(b);
      }),
    "with rollups": async (batches) => {
      for (const b of batches) await insertReceipts(orm, b);
    },
    "folded in memory": (batches) =>
      withoutRollupsTrigger(async () => {
        for (const b of batches) await insertFolded(b);
      }),
    "with a webhook": async (batches) => {
      for (const b of batches) await insertReceipts(orm, b);
    },
  };
  const ms = Object.fromEntries(NAMES.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
  let rolledUp = 0;
  // Warm-up: one batch each, not counted.
  for (const name of NAMES) {
    await runs[name]([nextBatch(name === "with a webhook")]);
    if (name !== "COPY" && name !== "receipts only") rolledUp += BATCH;
  }
  for (let round = 0; round < ROUNDS; round++) {
    // Each round in another order, so no variant always runs first or last.
    const order = [...NAMES.slice(round % NAMES.length), ...NAMES.slice(0, round % NAMES.length)];
    for (const name of order) {
      const batches = Array.from({ length: BATCHES }, () => nextBatch(name === "with a webhook"));
      const t0 = performance.now();
      await runs[name](batches);
      ms[name].push((performance.now() - t0) / (BATCHES * BATCH));
      if (name !== "COPY" && name !== "receipts only") rolledUp += BATCHES * BATCH;
    }
    say(
      `round ${round + 1}/${ROUNDS}: ${NAMES.map((n) => `${n} ${(ms[n].at(-1) ?? 0).toFixed(3)}`).join(" / ")} ms a receipt`,
    );
  }
  // Rollup rows one batch touches (its distinct buckets), per receipt: 1.0 per table would mean a
  // batch has nothing to fold together. Days are taken in UTC here (a count, not the figures).
  const sample = Array.from({ length: 20 }, () => nextBatch(false)).map((b) =>
    b.map((x) => JSON.parse(x.record) as BenchRecord),
  );
  const bucketsPerReceipt = (key: (r: BenchRecord) => string[]) =>
    sample.reduce((n, b) => n + new Set(b.flatMap(key)).size, 0) / (sample.length * BATCH);
  const hourOf = (r: BenchRecord) => `${r.tenantId}/${r.storeId}/${r.currency}/${r.issuedAt.slice(0, 13)}`;
  const touched = {
    sales: bucketsPerReceipt((r) => [hourOf(r)]),
    tax: bucketsPerReceipt((r) => r.items.map((i) => `${hourOf(r)}/${i.taxRate ?? ""}`)),
    items: bucketsPerReceipt((r) => r.items.map((i) => `${hourOf(r).slice(0, -3)}/${i.sku ?? i.name}`)),
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const copy = median(ms.COPY);
  const base = median(ms["receipts only"]);
  const roll = median(ms["with rollups"]);
  const hook = median(ms["with a webhook"]);
  const folded = median(ms["folded in memory"]);
  const share = (x: number) => `${((copy / x) * 100).toFixed(1)} % of COPY`;
  const size = async (t: string) =>
    Number(
      (
        await db.query(
          `SELECT sum(pg_total_relation_size(c.oid)) AS b FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '${t}'::regclass`,
        )
      ).rows[0]?.b ?? 0,
    );
  const rows = async (t: string) => Number((await db.query(`SELECT count(*) AS n FROM ${t}`)).rows[0]?.n);
  const rollupBytes = (await size("sales_rollup")) + (await size("tax_rollup")) + (await size("item_rollup"));
  const rollupRows = (await rows("sales_rollup")) + (await rows("tax_rollup")) + (await rows("item_rollup"));
  const receiptBytes = await size("receipts");
  const receipts = await rows("receipts");
  const deliveries = await rows("webhook_deliveries");
  const deliveryBytes = Number(
    (await db.query("SELECT pg_total_relation_size('webhook_deliveries') AS b")).rows[0]?.b ?? 0,
  );
  const extraMs = roll - base;
  // One backend on one core: extra CPU-seconds per million receipts, as Neon compute at the bench's utilization.
  const cuHours = (extraMs * 1e6) / 1000 / 3600 / ASSUMPTIONS.neonUtilization;
  const computeUsd = cuHours * PRICES.neonCompute.usd;
  const storageUsd = (((rollupBytes / rolledUp) * 1e6) / 1e9) * PRICES.neonStorage.usd;
  console.log(`
  one run, ${ROUNDS} rounds × ${BATCHES} batches × ${BATCH} receipts, medians (ms per receipt, one connection):
    raw COPY (the ceiling)     ${copy.toFixed(3)}
    receipts only (baseline)   ${base.toFixed(3)}   ${share(base)}
    with rollups (the product) ${roll.toFixed(3)}   ${share(roll)}   ratio ${(roll / base).toFixed(2)}×   (+${extraMs.toFixed(3)} ms)
    folded in memory, then one upsert per bucket ${folded.toFixed(3)}   ${share(folded)}   ratio ${(folded / base).toFixed(2)}×
    with rollups and a webhook ${hook.toFixed(3)}   ${share(hook)}   ratio ${(hook / base).toFixed(2)}×   (+${(hook - roll).toFixed(3)} ms for the delivery row)
  rollup rows one batch touches, per receipt: sales ${touched.sales.toFixed(2)}, tax ${touched.tax.toFixed(2)}, items ${touched.items.toFixed(2)}
    (a batch's receipts rarely share a store-hour: folding a batch in memory leaves the rows to write as they are)
  webhook deliveries: ${deliveries} rows, ${(deliveryBytes / Math.max(1, deliveries)).toFixed(0)} B each with their indexes
  size after ${receipts} receipts: receipts ${(receiptBytes / receipts).toFixed(0)} B each; rollups ${rollupRows} rows, ${(rollupBytes / rolledUp).toFixed(0)} B per receipt
    (this data: ${STORES} stores, issued over ${args["spread-hours"]} h; rows grow with store-hours and items sold, not with receipts)
  cost per million receipts: compute +$${computeUsd.toFixed(4)} (${cuHours.toFixed(3)} CU-h at ${ASSUMPTIONS.neonUtilization * 100} % use, $${PRICES.neonCompute.usd}/CU-h), storage ≤ $${storageUsd.toFixed(4)}/month ($${PRICES.neonStorage.usd}/GB-month; an upper bound, see docs/scale.md §13)
`);
  await db.end();
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
  await server?.stop();
}
