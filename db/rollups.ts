/**
 * The analytics rollups' upkeep (migrations/0012): one SQL text that adds a
 * set of receipts to the rollups, used by the consumer (the receipts its
 * INSERT really inserted) and by the rebuild (a range of days read back from
 * receipts), so the two can never count differently.
 */

/** Anything that runs a parameterized query: pg's Pool or Client, or Neon's. */
export type Queryable = {
  query: (text: string, params?: unknown[]) => Promise<{ rows: unknown[]; rowCount: number | null }>;
};

/**
 * Joins a receipt `r` to its store's time zone, the same way everywhere: UTC if
 * the store were missing or its zone one Postgres does not know (migrations/0015),
 * so no store setting can make a receipt's INSERT fail.
 */
export const STORE_ZONE = `LEFT JOIN stores s ON s.tenant_id = r.tenant_id AND s.id = r.store_id
  LEFT JOIN time_zones z ON z.name = s.timezone`;
export const ZONE = "coalesce(z.name, 'UTC')";

/** Makes time_zones what this server knows now (daily; migrations/0015). Returns how many it knows. */
export async function refreshTimeZones(client: Queryable): Promise<number> {
  const { rows } = await client.query("SELECT tillproof_refresh_time_zones() AS n");
  return Number((rows[0] as { n: number } | undefined)?.n ?? 0);
}

/**
 * Data-modifying CTEs that add the receipts of `src` to the rollups. `src`
 * must have the columns code, tenant_id, store_id, currency, issued_at, total,
 * items, payments, tz (the store's time zone), kind ('sale', 'refund', 'void')
 * and booked_at (when the receipt counts: its issued_at, or for a void its
 * sale's). A sale adds to receipts, gross, payments, rates and items; a void
 * takes its sale back out of the same buckets (it mirrors the sale); a refund
 * adds to refunds and refunded in its own bucket. Groups are upserted in key
 * order, so concurrent consumers take row locks in one order and never deadlock.
 */
export const ADD_TO_ROLLUPS = `
b AS (
  SELECT src.*, CASE WHEN kind = 'void' THEN -1 ELSE 1 END AS sgn,
         date_trunc('hour', booked_at, 'UTC') AS hour, (booked_at AT TIME ZONE tz)::date AS day FROM src
),
-- Each item once, with what the tax and item rollups group by.
it AS (
  SELECT b.code, b.kind, b.sgn, b.tenant_id, b.store_id, b.currency, b.hour, b.day, coalesce(i->>'taxRate', '') AS rate,
         CASE WHEN i ? 'sku' THEN 's:' || (i->>'sku') ELSE 'n:' || (i->>'name') END AS item_key,
         i->>'sku' AS sku, i->>'name' AS name, (i->>'quantity')::numeric AS quantity, (i->>'total')::bigint AS total
    FROM b, jsonb_array_elements(b.items) i
),
sales AS (
  INSERT INTO sales_rollup AS t (tenant_id, store_id, currency, hour, day, receipts, gross, cash, card, other,
                                 refunds, refunded)
  SELECT b.tenant_id, b.store_id, b.currency, b.hour, b.day,
         coalesce(sum(b.sgn) FILTER (WHERE b.kind <> 'refund'), 0),
         coalesce(sum(b.sgn * b.total) FILTER (WHERE b.kind <> 'refund'), 0),
         coalesce(sum(b.sgn * pay.cash) FILTER (WHERE b.kind <> 'refund'), 0),
         coalesce(sum(b.sgn * pay.card) FILTER (WHERE b.kind <> 'refund'), 0),
         coalesce(sum(b.sgn * pay.other) FILTER (WHERE b.kind <> 'refund'), 0),
         count(*) FILTER (WHERE b.kind = 'refund'),
         coalesce(sum(b.total) FILTER (WHERE b.kind = 'refund'), 0)
    FROM b, LATERAL (
      SELECT coalesce(sum((p->>'amount')::bigint) FILTER (WHERE p->>'method' = 'cash'), 0) AS cash,
             coalesce(sum((p->>'amount')::bigint) FILTER (WHERE p->>'method' = 'card'), 0) AS card,
             coalesce(sum((p->>'amount')::bigint) FILTER (WHERE p->>'method' NOT IN ('cash', 'card')), 0) AS other
        FROM jsonb_array_elements(b.payments) p) pay
   GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (tenant_id, store_id, currency, hour, day) DO UPDATE SET
    receipts = t.receipts + excluded.receipts, gross = t.gross + excluded.gross,
    cash = t.cash + excluded.cash, card = t.card + excluded.card, other = t.other + excluded.other,
    refunds = t.refunds + excluded.refunds, refunded = t.refunded + excluded.refunded
  RETURNING 1
),
tax AS (
  INSERT INTO tax_rollup AS t (tenant_id, store_id, currency, hour, day, rate, receipts, gross, refunds, refunded)
  SELECT tenant_id, store_id, currency, hour, day, rate,
         count(DISTINCT code) FILTER (WHERE kind = 'sale') - count(DISTINCT code) FILTER (WHERE kind = 'void'),
         coalesce(sum(sgn * total) FILTER (WHERE kind <> 'refund'), 0),
         count(DISTINCT code) FILTER (WHERE kind = 'refund'),
         coalesce(sum(total) FILTER (WHERE kind = 'refund'), 0)
    FROM it GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (tenant_id, store_id, currency, hour, day, rate) DO UPDATE SET
    receipts = t.receipts + excluded.receipts, gross = t.gross + excluded.gross,
    refunds = t.refunds + excluded.refunds, refunded = t.refunded + excluded.refunded
  RETURNING 1
),
item AS (
  INSERT INTO item_rollup AS t (tenant_id, store_id, currency, day, item_key, sku, name, quantity, revenue, receipts)
  SELECT tenant_id, store_id, currency, day, item_key, min(sku), min(name), sum(sgn * quantity), sum(sgn * total),
         count(DISTINCT code) FILTER (WHERE kind = 'sale') - count(DISTINCT code) FILTER (WHERE kind = 'void')
    FROM it WHERE kind <> 'refund' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (tenant_id, store_id, currency, day, item_key) DO UPDATE SET
    name = least(t.name, excluded.name), quantity = t.quantity + excluded.quantity,
    revenue = t.revenue + excluded.revenue, receipts = t.receipts + excluded.receipts
  RETURNING 1
)`;

/**
 * The receipts a rebuild of the store-local days [$1, $2] counts, as `src`:
 * those booked on those days (a void on its sale's). A receipt's issued_at is
 * at most an hour after its received_at, and a void comes at most a day after
 * its sale, so everything booked there was received after the day before `$1`
 * began, less one more day.
 */
export const REBUILD_SOURCE = `
  SELECT * FROM (
    SELECT r.code, r.tenant_id, r.store_id, r.currency, r.issued_at, r.total, r.items, r.payments, ${ZONE} AS tz,
           coalesce(r.kind, 'sale') AS kind,
           CASE WHEN r.kind = 'void' THEN coalesce(
             (SELECT o.issued_at FROM receipts o WHERE o.code = r.refers_to LIMIT 1), r.issued_at)
           ELSE r.issued_at END AS booked_at
      FROM receipts r ${STORE_ZONE}
     WHERE r.received_at >= ($1::date - 3)::timestamp AT TIME ZONE 'UTC') x
   WHERE (booked_at AT TIME ZONE tz)::date BETWEEN $1::date AND $2::date`;

/**
 * Recomputes the rollups of the store-local days [from, to] from receipts, in
 * one transaction. It locks the rollups against the consumer meanwhile
 * (SHARE ROW EXCLUSIVE), so a receipt is counted either here or by its
 * consumer, never by both and never by neither. Safe to run again. Uses the
 * stores' current time zones (a store that changed zone needs a rebuild).
 */
export async function rebuildRollups(
  client: Queryable,
  from: string,
  to: string,
): Promise<{ receipts: number; deleted: number; written: number }> {
  await client.query("BEGIN");
  try {
    await client.query("LOCK TABLE sales_rollup, tax_rollup, item_rollup IN SHARE ROW EXCLUSIVE MODE");
    let deleted = 0;
    for (const table of ["sales_rollup", "tax_rollup", "item_rollup"]) {
      deleted +=
        (await client.query(`DELETE FROM ${table} WHERE day BETWEEN $1::date AND $2::date`, [from, to])).rowCount ?? 0;
    }
    const { rows: out } = await client.query(
      `WITH src AS (${REBUILD_SOURCE}), ${ADD_TO_ROLLUPS}
       SELECT (SELECT count(*) FROM src) AS receipts,
              (SELECT count(*) FROM sales) + (SELECT count(*) FROM tax) + (SELECT count(*) FROM item) AS written`,
      [from, to],
    );
    await client.query("COMMIT");
    const row = out[0] as { receipts: string; written: string } | undefined;
    return { receipts: Number(row?.receipts ?? 0), deleted, written: Number(row?.written ?? 0) };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}
