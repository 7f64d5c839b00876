import { type SQL, sql } from "drizzle-orm";
import { codeRoute, counterCodeRange, shardCodeRange } from "../core/code.ts";
import type { OutboxReceipt } from "../core/outbox.ts";
import type { ChainRecord } from "../core/receipt.ts";
import type { Db } from "./client.ts";

/**
 * A batch's receipts as rows of receipts' columns (RECEIPT_COLUMNS). The
 * records travel as the exact JSON the shard hashed; Postgres unpacks them with
 * jsonb_to_recordset, so nothing re-serializes a receipt.
 */
const RECEIPT_COLUMNS = sql.raw(`code, received_at, tenant_id, store_id, terminal_id, seq, issued_at,
  currency, total, cashier, items, payments, hash, prev_hash, kind, refers_to, reason, offline, late`);
const receiptsOfBatch = (batch: string): SQL => sql`
  SELECT code, "receivedAt", "tenantId", "storeId", "terminalId", seq, "issuedAt",
         currency, total, cashier, items, payments, "_hash", "prevHash", kind, "refersTo", reason,
         offline, late
  FROM jsonb_to_recordset(${batch}::jsonb) AS r(
    code text, "receivedAt" timestamptz, "tenantId" text, "storeId" text, "terminalId" text,
    seq bigint, "issuedAt" timestamptz, currency text, total bigint, cashier text,
    items jsonb, payments jsonb, "_hash" text, "prevHash" text, kind text, "refersTo" text, reason text,
    offline jsonb, late boolean)`;

/** INSERTs a batch's receipts into `table` (a table with receipts' columns), as a statement fragment. */
export const insertReceiptsInto = (table: SQL, batch: string): SQL =>
  sql`INSERT INTO ${table} (${RECEIPT_COLUMNS}) ${receiptsOfBatch(batch)}`;

/**
 * The INSERT of one queue batch, as a CTE returning the rows really inserted.
 * Idempotent: a redelivered receipt hits the primary key and is skipped.
 */
export const insertReceiptsCte = (batch: string): SQL => sql`ins AS (
  ${insertReceiptsInto(sql`receipts`, batch)}
  ON CONFLICT DO NOTHING
  RETURNING code, received_at, tenant_id, store_id, currency, issued_at, total, items, payments, kind, refers_to
)`;

/**
 * The deliveries the new rows owe the tenants' webhooks (db/webhooks.ts), in
 * the same statement: a receipt in Postgres always has them, whatever happens
 * to the queue message that announces them.
 */
const ADD_DELIVERIES = sql`hooks AS (
  INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, code, received_at)
  SELECT i.tenant_id, w.id, 'evt_' || replace(i.code, '-', ''), i.code, i.received_at
    FROM ins i
    JOIN webhooks w ON w.tenant_id = i.tenant_id AND 'receipt.persisted' = ANY (w.events)
                   AND (w.store_ids IS NULL OR i.store_id = ANY (w.store_ids))
  ON CONFLICT DO NOTHING
  RETURNING tenant_id, webhook_id, event_id
)`;

/**
 * One statement per batch: the INSERT and the new rows' webhook deliveries.
 * The INSERT's trigger adds the rows it really inserted to the analytics
 * rollups (migrations/0018), which this role cannot write.
 */
const insertBatch = (batch: string): SQL => sql`
WITH ${insertReceiptsCte(batch)},
${ADD_DELIVERIES}
SELECT (SELECT count(*) FROM ins) AS inserted,
       (SELECT coalesce(json_agg(json_build_object('tenantId', tenant_id, 'webhookId', webhook_id, 'eventId', event_id)
                                 ORDER BY event_id), '[]') FROM hooks) AS deliveries`;

/** The batch as one JSON array: each record is a JSON object, and its hash is spliced in as one more key. */
export function batchJson(receipts: OutboxReceipt[]): string {
  return `[${receipts.map((r) => `${r.record.slice(0, -1)},"_hash":"${r.hash}"}`).join(",")}]`;
}

export type NewDelivery = { tenantId: string; webhookId: string; eventId: string };

/** Inserts receipts; returns how many were new and the webhook deliveries they created. */
export async function insertReceipts(
  db: Db,
  receipts: OutboxReceipt[],
): Promise<{ inserted: number; deliveries: NewDelivery[] }> {
  if (!receipts.length) return { inserted: 0, deliveries: [] };
  const { rows } = await db.execute<{ inserted: string; deliveries: NewDelivery[] }>(insertBatch(batchJson(receipts)));
  return { inserted: Number(rows[0]?.inserted ?? 0), deliveries: rows[0]?.deliveries ?? [] };
}

export type PersistedReceipt = {
  record: ChainRecord;
  hash: string;
  /** Hash of the store's receipt seq − 1 in Postgres, if it is there. */
  predecessorHash: string | null;
  storeName: string | null;
  /** The store's IANA time zone, for showing times on its own clock. */
  storeTimezone: string | null;
  tenantName: string | null;
};

type Row = {
  code: string;
  /** Epoch milliseconds (as text: bigint), so no date parsing is involved. */
  received_ms: string;
  tenant_id: string;
  store_id: string;
  terminal_id: string;
  seq: string;
  issued_ms: string;
  currency: string;
  total: string;
  cashier: string | null;
  items: ChainRecord["items"];
  payments: ChainRecord["payments"];
  hash: string;
  prev_hash: string;
  kind: string | null;
  refers_to: string | null;
  reason: string | null;
  offline: ChainRecord["offline"] | null;
  late: boolean | null;
  pred_hash: string | null;
  store_name: string | null;
  store_timezone: string | null;
  tenant_name: string | null;
};

const iso = (ms: string) => new Date(Number(ms)).toISOString();

/**
 * The select list recordFromRow reads (with a table alias, e.g. "r."). Times
 * come as exact epoch milliseconds, so no date string is ever parsed.
 */
export function recordColumns(alias = ""): string {
  const a = alias;
  return [
    `${a}code`,
    `(extract(epoch from ${a}received_at) * 1000)::bigint AS received_ms`,
    `${a}tenant_id, ${a}store_id, ${a}terminal_id, ${a}seq`,
    `(extract(epoch from ${a}issued_at) * 1000)::bigint AS issued_ms`,
    `${a}currency, ${a}total, ${a}cashier, ${a}items, ${a}payments, ${a}hash, ${a}prev_hash`,
    `${a}kind, ${a}refers_to, ${a}reason, ${a}offline, ${a}late`,
  ].join(", ");
}

export type RecordRow = Pick<
  Row,
  | "code"
  | "received_ms"
  | "tenant_id"
  | "store_id"
  | "terminal_id"
  | "seq"
  | "issued_ms"
  | "currency"
  | "total"
  | "cashier"
  | "items"
  | "payments"
  | "hash"
  | "prev_hash"
  | "kind"
  | "refers_to"
  | "reason"
  | "offline"
  | "late"
>;

/** Rebuilds the hashed record from a row, exactly as the shard built it. */
export function recordFromRow(r: RecordRow): ChainRecord {
  const record: ChainRecord = {
    v: 1,
    code: r.code,
    tenantId: r.tenant_id,
    storeId: r.store_id,
    terminalId: r.terminal_id,
    seq: Number(r.seq),
    issuedAt: iso(r.issued_ms),
    receivedAt: iso(r.received_ms),
    currency: r.currency,
    total: Number(r.total),
    items: r.items,
    payments: r.payments,
    prevHash: r.prev_hash,
  };
  if (r.cashier !== null) record.cashier = r.cashier;
  // Only records issued since v1.2 carry these (an older one hashes without them).
  if (r.kind !== null) record.kind = r.kind as NonNullable<ChainRecord["kind"]>;
  if (r.refers_to !== null) record.refersTo = r.refers_to;
  if (r.reason !== null) record.reason = r.reason;
  if (r.offline !== null) record.offline = r.offline;
  if (r.late === true) record.late = true;
  return record;
}

/** The row a record is stored as (recordFromRow's inverse): how the audit walks archived receipts with the rest. */
export function rowOfRecord(r: ChainRecord, hash: string): RecordRow {
  return {
    code: r.code,
    received_ms: String(Date.parse(r.receivedAt)),
    tenant_id: r.tenantId,
    store_id: r.storeId,
    terminal_id: r.terminalId,
    seq: String(r.seq),
    issued_ms: String(Date.parse(r.issuedAt)),
    currency: r.currency,
    total: String(r.total),
    cashier: r.cashier ?? null,
    items: r.items,
    payments: r.payments,
    hash,
    prev_hash: r.prevHash,
    kind: r.kind ?? null,
    refers_to: r.refersTo ?? null,
    reason: r.reason ?? null,
    offline: r.offline ?? null,
    late: r.late === true ? true : null,
  };
}

/** The receipt, its predecessor's hash and display names, in one round trip. */
export async function findReceipt(db: Db, code: string): Promise<PersistedReceipt | null> {
  const { rows } = await db.execute<Row>(sql`
    SELECT ${sql.raw(recordColumns("r."))},
           (SELECT p.hash FROM receipts p
             WHERE p.tenant_id = r.tenant_id AND p.store_id = r.store_id AND p.seq = r.seq - 1 LIMIT 1) AS pred_hash,
           s.name AS store_name, s.timezone AS store_timezone, t.name AS tenant_name
      FROM receipts r
      LEFT JOIN stores s ON s.tenant_id = r.tenant_id AND s.id = r.store_id
      LEFT JOIN tenants t ON t.id = r.tenant_id
     WHERE r.code = ${code}
     LIMIT 1`);
  const row = rows[0];
  if (!row) return null;
  return {
    record: recordFromRow(row),
    hash: row.hash,
    predecessorHash: row.pred_hash,
    storeName: row.store_name,
    storeTimezone: row.store_timezone,
    tenantName: row.tenant_name,
  };
}

/** Display names (and the store's time zone) for a receipt that is not in Postgres yet. */
export async function findNames(
  db: Db,
  tenantId: string,
  storeId: string,
): Promise<{ tenantName: string | null; storeName: string | null; storeTimezone: string | null }> {
  const { rows } = await db.execute<{
    tenant_name: string | null;
    store_name: string | null;
    store_timezone: string | null;
  }>(sql`
    SELECT (SELECT name FROM tenants WHERE id = ${tenantId}) AS tenant_name,
           s.name AS store_name, s.timezone AS store_timezone
      FROM (SELECT 1) AS one
      LEFT JOIN stores s ON s.tenant_id = ${tenantId} AND s.id = ${storeId}`);
  return {
    tenantName: rows[0]?.tenant_name ?? null,
    storeName: rows[0]?.store_name ?? null,
    storeTimezone: rows[0]?.store_timezone ?? null,
  };
}

/** The stored hash of a store's receipt by seq (for a link check). */
export async function hashAtSeq(db: Db, tenantId: string, storeId: string, seq: number): Promise<string | null> {
  const { rows } = await db.execute<{ hash: string }>(sql`
    SELECT hash FROM receipts WHERE tenant_id = ${tenantId} AND store_id = ${storeId} AND seq = ${seq} LIMIT 1`);
  return rows[0]?.hash ?? null;
}

/**
 * A shard's v1 receipts after counter `after`, in counter order (code order
 * within one shard and layout), for a shard that adopts its history
 * (durable-objects/upgrade.ts). Codes carry their counter, so this is a range scan.
 */
export async function shardHistory(
  db: Db,
  shard: number,
  after: number,
  limit: number,
): Promise<{ counter: number; record: ChainRecord; hash: string }[]> {
  const from = counterCodeRange({ shard, counter: after + 1 }, 1).lo;
  const { hi } = shardCodeRange(shard, 1);
  const { rows } = await db.execute<RecordRow>(sql`
    SELECT ${sql.raw(recordColumns())} FROM receipts
     WHERE code >= ${from} AND length(code) = 16 ${hi === "~" ? sql`` : sql`AND code < ${hi}`}
     ORDER BY code LIMIT ${limit}`);
  return rows.map((r) => ({ counter: codeRoute(r.code)?.counter ?? 0, record: recordFromRow(r), hash: r.hash }));
}
