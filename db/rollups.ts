/**
 * The analytics rollups' upkeep (migrations/0012, 0018). One database
 * function, tillproof_rollups_add, adds receipts to them: the receipts
 * INSERT's trigger calls it with the rows really inserted, the rebuild (the
 * owner) with a range of days read back from receipts, and from the archive
 * for days that left Postgres, so the two can never count differently. The
 * runtime role only reads them.
 */
import { sql } from "drizzle-orm";
import type { OutboxReceipt } from "../core/outbox.ts";
import { archivedThrough, droppedDaysMark } from "./archive.ts";
import type { Db } from "./client.ts";
import { batchJson, insertReceiptsInto } from "./receipts.ts";

const ROLLUPS = ["sales_rollup", "tax_rollup", "item_rollup"] as const;

/** A rebuild asked for days whose receipts left Postgres for the archive, without them (or they changed meanwhile). */
export class ArchivedDays extends Error {}

/** This session's copy of archived receipts for a rebuild (a temporary table: gone with the connection). */
const ARCHIVED = sql`archived_receipts`;

/**
 * Adds receipts read back from the archive to this session's copy, for
 * rebuildRollups. Load them before the rebuild: reading R2 must not hold the
 * rollups' lock (the consumer waits on it). Needs one connection throughout.
 */
export async function loadArchivedReceipts(db: Db, receipts: OutboxReceipt[]): Promise<void> {
  await db.execute(sql`CREATE TEMP TABLE IF NOT EXISTS ${ARCHIVED} (LIKE receipts INCLUDING DEFAULTS)`);
  if (receipts.length) await db.execute(insertReceiptsInto(ARCHIVED, batchJson(receipts)));
}

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
 * A range that reaches archived days needs their receipts, loaded first
 * (loadArchivedReceipts) from every day dropped since `receivedSince(from)`,
 * and `archived.dropped`, the droppedDaysMark seen when they were listed;
 * without them, or if another day was dropped meanwhile (any day, not only a
 * newer one), it refuses (ArchivedDays) and changes nothing.
 */
export async function rebuildRollups(
  db: Db,
  from: string,
  to: string,
  archived?: { dropped: string },
): Promise<{ receipts: number; deleted: number; written: number }> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`LOCK TABLE sales_rollup, tax_rollup, item_rollup IN SHARE ROW EXCLUSIVE MODE`);
    // An archived day's receipts are in R2 only: recomputing it from Postgres alone would wipe its figures.
    const through = await archivedThrough(tx);
    const reachesArchive = through !== null && from <= through;
    if (reachesArchive && archived?.dropped !== (await droppedDaysMark(tx))) {
      throw new ArchivedDays(
        archived
          ? `a day was archived since the archive was read (now through ${through}): run it again`
          : `days through ${through} are archived (docs/archive.md): read them from R2 (--url and --operator-token), or rebuild from the day after`,
      );
    }
    let deleted = 0;
    for (const table of ROLLUPS) {
      const out = await tx.execute(
        sql`DELETE FROM ${sql.identifier(table)} WHERE day BETWEEN ${from}::date AND ${to}::date`,
      );
      deleted += out.rowCount ?? 0;
    }
    const { rows } = await tx.execute<{ receipts: string }>(
      sql`SELECT tillproof_rollups_add(ARRAY(
            SELECT r FROM receipts r WHERE r.received_at >= ${receivedSince(from)}::timestamp AT TIME ZONE 'UTC'),
            ${from}, ${to}) AS receipts`,
    );
    let receipts = Number(rows[0]?.receipts ?? 0);
    if (reachesArchive) {
      await loadArchivedReceipts(tx, []);
      // A void is booked at its sale's time, which the function looks up in receipts; an archived
      // void's sale was archived with it (a void comes within a day), so it is given that time here.
      await tx.execute(sql`UPDATE ${ARCHIVED} v SET issued_at = s.issued_at FROM ${ARCHIVED} s
                            WHERE v.kind = 'void' AND s.code = v.refers_to`);
      const fromArchive = await tx.execute<{ receipts: string }>(
        sql`SELECT tillproof_rollups_add(ARRAY(SELECT ROW(a.*)::receipts FROM ${ARCHIVED} a), ${from}, ${to}) AS receipts`,
      );
      receipts += Number(fromArchive.rows[0]?.receipts ?? 0);
    }
    let written = 0;
    for (const table of ROLLUPS) {
      const out = await tx.execute<{ n: string }>(
        sql`SELECT count(*) AS n FROM ${sql.identifier(table)} WHERE day BETWEEN ${from}::date AND ${to}::date`,
      );
      written += Number(out.rows[0]?.n ?? 0);
    }
    return { receipts, deleted, written };
  });
}

/**
 * The first received day a rebuild of days from `from` reads. A receipt's
 * issued_at is at most an hour after its received_at and a void comes at most
 * a day after its sale, so all that is booked on these days was received after
 * the day before `from` began, less one more day; the function keeps those
 * booked on [from, to].
 */
export function receivedSince(from: string): string {
  return new Date(Date.parse(`${from}T00:00:00Z`) - 3 * 86_400_000).toISOString().slice(0, 10);
}
