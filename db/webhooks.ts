/**
 * Webhooks and their delivery log (migrations/0014). Deliveries are created in
 * the receipts' own INSERT (db/receipts.ts); here they are read, attempted
 * (recorded) and swept.
 */
import { sql } from "drizzle-orm";
import { groupCode } from "../core/code.ts";
import type { DeliveryStatus, WebhookEvent } from "../core/webhooks.ts";
import type { Db } from "./client.ts";
import { type RecordRow, recordColumns } from "./receipts.ts";

export type Webhook = {
  id: string;
  url: string;
  events: WebhookEvent[];
  /** null: every store of the tenant. */
  storeIds: string[] | null;
  createdAt: string;
  updatedAt: string;
};

type WebhookRow = {
  id: string;
  url: string;
  events: WebhookEvent[];
  store_ids: string[] | null;
  created_at: string;
  updated_at: string;
};

/** A timestamptz as the API writes times (RFC 3339, UTC, milliseconds). */
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const WEBHOOK_COLUMNS = sql.raw(
  `id, url, events, store_ids, ${iso("created_at")} AS created_at, ${iso("updated_at")} AS updated_at`,
);

const toWebhook = (r: WebhookRow): Webhook => ({
  id: r.id,
  url: r.url,
  events: r.events,
  storeIds: r.store_ids,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/**
 * Creates the webhook with `salt`, or updates its url, events and stores (the
 * salt, and so the secret, stay). `created`: whether it is new. Null when the
 * tenant already has `max` other webhooks.
 */
export async function upsertWebhook(
  db: Db,
  w: { tenantId: string; id: string; url: string; events: WebhookEvent[]; storeIds: string[] | null; salt: string },
  max: number,
): Promise<{ webhook: Webhook; created: boolean; salt: string } | null> {
  // One tenant's writes one at a time: under READ COMMITTED, concurrent statements would each count
  // the others' new webhooks out and all pass the cap. The next statement sees what came before it.
  const { rows } = await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`webhooks/${w.tenantId}`}))`);
    return tx.execute<WebhookRow & { created: boolean; secret_salt: string }>(sql`
    INSERT INTO webhooks (tenant_id, id, url, events, store_ids, secret_salt)
    SELECT ${w.tenantId}, ${w.id}, ${w.url}, ${textArray(w.events)}, ${w.storeIds ? textArray(w.storeIds) : null}, ${w.salt}
     WHERE (SELECT count(*) FROM webhooks WHERE tenant_id = ${w.tenantId} AND id <> ${w.id}) < ${max}
    ON CONFLICT (tenant_id, id) DO UPDATE
      SET url = excluded.url, events = excluded.events, store_ids = excluded.store_ids, updated_at = now()
    RETURNING ${WEBHOOK_COLUMNS}, secret_salt, (xmax = 0) AS created`);
  });
  const row = rows[0];
  return row ? { webhook: toWebhook(row), created: row.created, salt: row.secret_salt } : null;
}

/** A text[] from a JS array (drizzle would spread the array into separate parameters). */
const textArray = (values: readonly string[]) =>
  sql`ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;

export async function listWebhooks(db: Db, tenantId: string): Promise<Webhook[]> {
  const { rows } = await db.execute<WebhookRow>(
    sql`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = ${tenantId} ORDER BY id`,
  );
  return rows.map(toWebhook);
}

export async function findWebhook(db: Db, tenantId: string, id: string): Promise<Webhook | null> {
  const { rows } = await db.execute<WebhookRow>(
    sql`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = ${tenantId} AND id = ${id}`,
  );
  return rows[0] ? toWebhook(rows[0]) : null;
}

/** Deletes the webhook and its delivery log; false if there was none. */
export async function deleteWebhook(db: Db, tenantId: string, id: string): Promise<boolean> {
  const { rows } = await db.execute(
    sql`DELETE FROM webhooks WHERE tenant_id = ${tenantId} AND id = ${id} RETURNING id`,
  );
  return rows.length > 0;
}

/** Store ids of `tenantId` among `ids` that do not exist. */
export async function unknownStores(db: Db, tenantId: string, ids: string[]): Promise<string[]> {
  const { rows } = await db.execute<{ id: string }>(sql`
    SELECT x.id FROM jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb) AS x(id)
     WHERE NOT EXISTS (SELECT 1 FROM stores s WHERE s.tenant_id = ${tenantId} AND s.id = x.id)`);
  return rows.map((r) => r.id);
}

export type Delivery = {
  eventId: string;
  type: WebhookEvent;
  code: string;
  status: DeliveryStatus;
  attempts: number;
  createdAt: string;
  lastAttemptAt: string | null;
  /** The receiver's HTTP status on the last attempt (null: no answer). */
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  /** When the next automatic attempt is due (pending only). */
  nextAttemptAt: string | null;
};

type DeliveryRow = {
  event_id: string;
  code: string;
  status: DeliveryStatus;
  attempts: number;
  created_at: string;
  created_us: string;
  last_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
  next_attempt_at: string | null;
};

const DELIVERY_COLUMNS = sql.raw(
  [
    "d.event_id, d.code, d.status, d.attempts",
    `${iso("d.created_at")} AS created_at`,
    "(extract(epoch from d.created_at) * 1000000)::bigint AS created_us",
    `${iso("d.last_attempt_at")} AS last_attempt_at`,
    "d.last_status, d.last_error",
    `${iso("d.delivered_at")} AS delivered_at`,
    `CASE WHEN d.status = 'pending' THEN ${iso("d.next_attempt_at")} END AS next_attempt_at`,
  ].join(", "),
);

const toDelivery = (r: DeliveryRow): Delivery => ({
  eventId: r.event_id,
  type: "receipt.persisted",
  code: groupCode(r.code),
  status: r.status,
  attempts: r.attempts,
  createdAt: r.created_at,
  lastAttemptAt: r.last_attempt_at,
  lastStatus: r.last_status,
  lastError: r.last_error,
  deliveredAt: r.delivered_at,
  nextAttemptAt: r.next_attempt_at,
});

/**
 * A page of the delivery log, newest first; `next` continues it. Deliveries
 * live with their receipts, so the page is merged from each receipts database's
 * own newest `limit` (db/routing.ts).
 */
export async function listDeliveries(
  dbs: Db[],
  key: { tenantId: string; webhookId: string },
  o: { status?: DeliveryStatus; limit: number; before?: { createdUs: string; eventId: string } },
): Promise<{ deliveries: Delivery[]; next: string | null }> {
  const rows = (await Promise.all(dbs.map((db) => deliveriesOf(db, key, o)))).flat();
  // Newest first by (created_at, event_id), as each database ordered its own.
  rows.sort((a, b) => {
    const at = BigInt(b.created_us) - BigInt(a.created_us);
    return at !== 0n ? (at > 0n ? 1 : -1) : a.event_id < b.event_id ? 1 : a.event_id > b.event_id ? -1 : 0;
  });
  const page = rows.slice(0, o.limit);
  const last = page.at(-1);
  return {
    deliveries: page.map(toDelivery),
    next: rows.length > o.limit && last ? `${last.created_us}.${last.event_id}` : null,
  };
}

async function deliveriesOf(
  db: Db,
  key: { tenantId: string; webhookId: string },
  o: { status?: DeliveryStatus; limit: number; before?: { createdUs: string; eventId: string } },
): Promise<DeliveryRow[]> {
  const { rows } = await db.execute<DeliveryRow>(sql`
    SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d
     WHERE d.tenant_id = ${key.tenantId} AND d.webhook_id = ${key.webhookId}
       ${o.status ? sql`AND d.status = ${o.status}` : sql``}
       ${o.before ? sql`AND (d.created_at, d.event_id) < (to_timestamp(${o.before.createdUs}::numeric / 1000000), ${o.before.eventId})` : sql``}
     ORDER BY d.created_at DESC, d.event_id DESC
     LIMIT ${o.limit + 1}`);
  return rows;
}

export const parseCursor = (cursor: string): { createdUs: string; eventId: string } | null => {
  // Microseconds since 1970 in at most 16 digits (to the year 2286): more is past Postgres's timestamps.
  const m = /^(\d{1,16})\.(evt_[A-Z0-9]{16,20})$/.exec(cursor);
  return m ? { createdUs: m[1] as string, eventId: m[2] as string } : null;
};

export type DeliveryKey = { tenantId: string; webhookId: string; eventId: string };

/** What sending one delivery takes: the webhook, the delivery, the receipt and its names. */
export type DeliveryJob = DeliveryKey & {
  url: string;
  salt: string;
  status: DeliveryStatus;
  attempts: number;
  createdAt: string;
  /** Seconds since the delivery was created (by Postgres's clock). */
  ageSeconds: number;
  row: RecordRow;
  storeName: string | null;
  tenantName: string | null;
};

type JobRow = RecordRow & {
  tenant_id: string;
  webhook_id: string;
  event_id: string;
  url: string;
  secret_salt: string;
  status: DeliveryStatus;
  attempts: number;
  d_created_at: string;
  age_s: string;
  d_code: string;
  d_tenant_id: string;
  d_received_ms: string;
  store_name: string | null;
  tenant_name: string | null;
};

/**
 * A job as Postgres has it: `row` is null when its receipt is no longer in
 * Postgres (archived: docs/archive.md); `code` and `receivedMs` name it there.
 */
export type StoredJob = Omit<DeliveryJob, "row"> & { row: RecordRow | null; code: string; receivedMs: number };

/** The jobs for `keys` in one round trip; a key whose webhook or delivery is gone is left out. */
export async function loadDeliveryJobs(db: Db, keys: DeliveryKey[]): Promise<StoredJob[]> {
  if (!keys.length) return [];
  const { rows } = await db.execute<JobRow>(sql`
    SELECT d.tenant_id AS d_tenant_id, d.webhook_id, d.event_id, w.url, w.secret_salt, d.status, d.attempts,
           ${sql.raw(iso("d.created_at"))} AS d_created_at,
           extract(epoch from now() - d.created_at) AS age_s, d.code AS d_code,
           (extract(epoch from d.received_at) * 1000)::bigint AS d_received_ms,
           ${sql.raw(recordColumns("r."))}, s.name AS store_name, t.name AS tenant_name
      FROM jsonb_to_recordset(${JSON.stringify(keys)}::jsonb) AS k("tenantId" text, "webhookId" text, "eventId" text)
      JOIN webhook_deliveries d
        ON d.tenant_id = k."tenantId" AND d.webhook_id = k."webhookId" AND d.event_id = k."eventId"
      JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id
      -- The receipt must be the webhook's tenant's own, whatever a row says (an archived one: none here).
      LEFT JOIN receipts r ON r.code = d.code AND r.received_at = d.received_at AND r.tenant_id = d.tenant_id
      LEFT JOIN stores s ON s.tenant_id = r.tenant_id AND s.id = r.store_id
      LEFT JOIN tenants t ON t.id = r.tenant_id`);
  return rows.map((r) => ({
    // The delivery's tenant: the receipt's columns (null when it is archived) would shadow its own.
    tenantId: r.d_tenant_id,
    webhookId: r.webhook_id,
    eventId: r.event_id,
    url: r.url,
    salt: r.secret_salt,
    status: r.status,
    attempts: r.attempts,
    createdAt: r.d_created_at,
    ageSeconds: Number(r.age_s),
    row: r.code === null ? null : r,
    code: r.d_code,
    receivedMs: Number(r.d_received_ms),
    storeName: r.store_name,
    tenantName: r.tenant_name,
  }));
}

export type AttemptResult = DeliveryKey & {
  /** The status the delivery has now. */
  status: DeliveryStatus;
  httpStatus: number | null;
  error: string | null;
  /** Seconds until the next automatic attempt (pending only). */
  retryInSeconds: number | null;
};

/** Records attempts, one statement for the lot. */
export async function recordAttempts(db: Db, results: AttemptResult[]): Promise<void> {
  if (!results.length) return;
  await db.execute(sql`
    UPDATE webhook_deliveries d
       SET attempts = d.attempts + 1,
           last_attempt_at = now(),
           -- Delivered stays delivered: a concurrent send that failed (a manual retry, a duplicate
           -- message) must not undo it.
           status = CASE WHEN d.status = 'delivered' THEN d.status ELSE a.status END,
           last_status = a."httpStatus",
           last_error = a.error,
           delivered_at = CASE WHEN a.status = 'delivered' THEN now() ELSE d.delivered_at END,
           next_attempt_at = now() + make_interval(secs => coalesce(a."retryInSeconds", 0))
      FROM jsonb_to_recordset(${JSON.stringify(results)}::jsonb)
           AS a("tenantId" text, "webhookId" text, "eventId" text, status text, "httpStatus" integer,
                error text, "retryInSeconds" integer)
     WHERE d.tenant_id = a."tenantId" AND d.webhook_id = a."webhookId" AND d.event_id = a."eventId"`);
}

/**
 * Deliveries not tried this time (their receiver could not be reached on an
 * earlier one): due with the failed one, without counting an attempt, so the
 * sweep does not take them for lost while their message waits.
 */
export async function deferDeliveries(db: Db, keys: DeliveryKey[], seconds: number): Promise<void> {
  if (!keys.length) return;
  await db.execute(sql`
    UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => ${seconds})
      FROM jsonb_to_recordset(${JSON.stringify(keys)}::jsonb) AS k("tenantId" text, "webhookId" text, "eventId" text)
     WHERE d.tenant_id = k."tenantId" AND d.webhook_id = k."webhookId" AND d.event_id = k."eventId"
       AND d.status = 'pending'`);
}

export type WebhookHealth = { pending: number; oldestPendingSeconds: number; failed: number; held: number };

/** For the operator's status and /metrics: through the partial indexes of pending, failed and held rows only. */
export async function webhookHealth(db: Db): Promise<WebhookHealth> {
  const { rows } = await db.execute<{ pending: string; oldest_s: string | null; failed: string; held: string }>(sql`
    SELECT p.pending, p.oldest_s, f.failed, h.held
      FROM (SELECT count(*) AS pending, extract(epoch from now() - min(created_at)) AS oldest_s
              FROM webhook_deliveries WHERE status = 'pending') p,
           (SELECT count(*) AS failed FROM webhook_deliveries WHERE status = 'failed') f,
           (SELECT count(*) AS held FROM webhook_deliveries WHERE status = 'held') h`);
  const row = rows[0];
  return {
    pending: Number(row?.pending ?? 0),
    oldestPendingSeconds: Math.max(0, Number(row?.oldest_s ?? 0)),
    failed: Number(row?.failed ?? 0),
    held: Number(row?.held ?? 0),
  };
}

export async function findDelivery(db: Db, key: DeliveryKey): Promise<Delivery | null> {
  const { rows } = await db.execute<DeliveryRow>(sql`
    SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d
     WHERE d.tenant_id = ${key.tenantId} AND d.webhook_id = ${key.webhookId} AND d.event_id = ${key.eventId}`);
  return rows[0] ? toDelivery(rows[0]) : null;
}

/**
 * Pending deliveries overdue by `graceSeconds` (their queue message was lost,
 * or never sent because the queue was down after Postgres committed them):
 * claimed by pushing their due time on by the grace, so the next sweep skips
 * them while they travel.
 */
export async function claimOverdueDeliveries(db: Db, graceSeconds: number, limit: number): Promise<DeliveryKey[]> {
  const { rows } = await db.execute<{ tenant_id: string; webhook_id: string; event_id: string }>(sql`
    UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => ${graceSeconds})
      FROM (SELECT tenant_id, webhook_id, event_id FROM webhook_deliveries
             WHERE status = 'pending' AND next_attempt_at < now() - make_interval(secs => ${graceSeconds})
             ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED) o
     WHERE d.tenant_id = o.tenant_id AND d.webhook_id = o.webhook_id AND d.event_id = o.event_id
    RETURNING d.tenant_id, d.webhook_id, d.event_id`);
  return rows.map((r) => ({ tenantId: r.tenant_id, webhookId: r.webhook_id, eventId: r.event_id }));
}

/**
 * The delivery log keeps delivered deliveries for `days`, then forgets them
 * (pending and failed ones stay until delivered or their webhook is deleted).
 * At most `limit` rows a call, so the daily cron stays short.
 */
export async function pruneDeliveredDeliveries(db: Db, days: number, limit: number): Promise<number> {
  const { rows } = await db.execute<{ n: string }>(sql`
    WITH old AS (
      SELECT ctid FROM webhook_deliveries
       WHERE status = 'delivered' AND delivered_at < now() - make_interval(days => ${days})
       LIMIT ${limit}
    ), gone AS (DELETE FROM webhook_deliveries d USING old WHERE d.ctid = old.ctid RETURNING 1)
    SELECT count(*) AS n FROM gone`);
  return Number(rows[0]?.n ?? 0);
}
