/**
 * The analytics rollups' upkeep (migrations/0012, 0018). One database
 * function, tillproof_rollups_add, adds receipts to them: the receipts
 * INSERT's trigger calls it with the rows really inserted, the rebuild (the
 * owner) with a range of days read back from receipts, so the two can never
 * count differently. The runtime role only reads them.
 */
import { sql } from "drizzle-orm";
import { archivedThrough } from "./archive.ts";
import type { Db } from "./client.ts";

const ROLLUPS = ["sales_rollup", "tax_rollup", "item_rollup"] as const;

/** A rebuild asked for days whose receipts left Postgres for the archive. */
export class ArchivedDays extends Error {}

/** Makes time_zones what this server knows now (daily; migrations/0015). Returns how many it knows. */
export async function refreshTimeZones(db: Db): Promise<number> {
  const { rows } = await db.execute<{ n: number }>(sql`SELECT tillproof_refresh_time_zones() AS n`);
  return Number(rows[0]?.n ?? 0);
}

/**
 * Recomputes the rollups of the store-local days [from, to] from receipts, in
 * one transaction. It locks the rollups against the consumer meanwhile
 * (SHARE ROW EXCLUSIVE), so a receipt is counted either here or by its
 * consumer, never by both and never by neither. Safe to run again. Needs the
 * owner's connection (the runtime role may not delete rollups). Uses the
 * stores' current time zones (a store that changed zone needs a rebuild).
 * Refuses (ArchivedDays) a range that reaches archived days.
 */
export async function rebuildRollups(
  db: Db,
  from: string,
  to: string,
): Promise<{ receipts: number; deleted: number; written: number }> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`LOCK TABLE sales_rollup, tax_rollup, item_rollup IN SHARE ROW EXCLUSIVE MODE`);
    // An archived day's receipts are in R2 only: recomputing it from Postgres would wipe its figures.
    const through = await archivedThrough(tx);
    if (through !== null && from <= through) {
      throw new ArchivedDays(`days through ${through} are archived (docs/archive.md): rebuild from the day after`);
    }
    let deleted = 0;
    for (const table of ROLLUPS) {
      const out = await tx.execute(
        sql`DELETE FROM ${sql.identifier(table)} WHERE day BETWEEN ${from}::date AND ${to}::date`,
      );
      deleted += out.rowCount ?? 0;
    }
    // A receipt's issued_at is at most an hour after its received_at and a void comes at most a day
    // after its sale, so all that is booked on these days was received after the day before `from`
    // began, less one more day; the function keeps those booked on [from, to].
    const { rows } = await tx.execute<{ receipts: string }>(
      sql`SELECT tillproof_rollups_add(ARRAY(
            SELECT r FROM receipts r WHERE r.received_at >= (${from}::date - 3)::timestamp AT TIME ZONE 'UTC'),
            ${from}, ${to}) AS receipts`,
    );
    let written = 0;
    for (const table of ROLLUPS) {
      const out = await tx.execute<{ n: string }>(
        sql`SELECT count(*) AS n FROM ${sql.identifier(table)} WHERE day BETWEEN ${from}::date AND ${to}::date`,
      );
      written += Number(out.rows[0]?.n ?? 0);
    }
    return { receipts: Number(rows[0]?.receipts ?? 0), deleted, written };
  });
}
