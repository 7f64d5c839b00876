import { sql } from "drizzle-orm";
import type { Db } from "./client.ts";

export type PartitionOutcome = { day: string; outcome: string };

/**
 * Creates the daily receipt partitions up to `daysAhead`, each day on its own
 * (migration 0005): one row per day it created or could not create.
 */
export async function ensurePartitions(db: Db, daysAhead: number): Promise<PartitionOutcome[]> {
  const { rows } = await db.execute<PartitionOutcome>(
    sql`SELECT day::text AS day, outcome FROM tillproof_ensure_receipt_partitions(${daysAhead})`,
  );
  return rows;
}
