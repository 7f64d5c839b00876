/**
 * The analytics rollups' upkeep (migrations/0012, 0018). One database
 * function, tillproof_rollups_add, adds receipts to them: the receipts
 * INSERT's trigger calls it with the rows really inserted, the rebuild (the
 * owner) with a range of days read back from receipts, so the two can never
 * count differently. The runtime role only reads them.
 */
import type { Queryable } from "./client.ts";

/** Makes time_zones what this server knows now (daily; migrations/0015). Returns how many it knows. */
export async function refreshTimeZones(client: Queryable): Promise<number> {
  const { rows } = await client.query("SELECT tillproof_refresh_time_zones() AS n");
  return Number((rows[0] as { n: number } | undefined)?.n ?? 0);
}

/**
 * Recomputes the rollups of the store-local days [from, to] from receipts, in
 * one transaction. It locks the rollups against the consumer meanwhile
 * (SHARE ROW EXCLUSIVE), so a receipt is counted either here or by its
 * consumer, never by both and never by neither. Safe to run again. Needs the
 * owner's connection (the runtime role may not delete rollups). Uses the
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
    // A receipt's issued_at is at most an hour after its received_at and a void comes at most a day
    // after its sale, so all that is booked on these days was received after the day before `from`
    // began, less one more day; the function keeps those booked on [from, to].
    const { rows: out } = await client.query(
      `SELECT tillproof_rollups_add(ARRAY(
         SELECT r FROM receipts r WHERE r.received_at >= ($1::date - 3)::timestamp AT TIME ZONE 'UTC'), $1, $2) AS receipts`,
      [from, to],
    );
    let written = 0;
    for (const table of ["sales_rollup", "tax_rollup", "item_rollup"]) {
      written += Number(
        (
          (await client.query(`SELECT count(*) AS n FROM ${table} WHERE day BETWEEN $1::date AND $2::date`, [from, to]))
            .rows[0] as { n: string }
        ).n,
      );
    }
    await client.query("COMMIT");
    const row = out[0] as { receipts: string } | undefined;
    return { receipts: Number(row?.receipts ?? 0), deleted, written };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}
