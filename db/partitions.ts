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

/** Rows in the DEFAULT partition (should be 0) and daily partitions ahead of today (should be ≥ 3). */
export async function partitionHealth(db: Db): Promise<{ defaultRows: number; futurePartitions: number }> {
  const { rows } = await db.execute<{ default_rows: string; future_partitions: number }>(
    sql`SELECT default_rows, future_partitions FROM tillproof_partition_health()`,
  );
  return { defaultRows: Number(rows[0]?.default_rows ?? 0), futurePartitions: Number(rows[0]?.future_partitions ?? 0) };
}
