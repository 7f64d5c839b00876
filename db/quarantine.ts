/**
 * Receipts Postgres refused (migrations/0015): kept with the reason instead of
 * holding back their batch. Verify reads them here (and checks them against the
 * log like any other record); operations count them.
 */
import { sql } from "drizzle-orm";
import type { OutboxReceipt } from "../core/outbox.ts";
import type { ChainRecord } from "../core/receipt.ts";
import { describeError } from "../kit/describe-error.ts";
import { type Db, sqlStateOf } from "./client.ts";

/**
 * Keeps a refused receipt (once: a redelivery changes nothing). True when the
 * quarantine now holds this very receipt; false when its (shard, counter) holds
 * another hash (an insider's row): then it is not kept, and its shard keeps it.
 */
export async function quarantineReceipt(
  db: Db,
  shard: number,
  receipt: OutboxReceipt,
  error: unknown,
): Promise<boolean> {
  const code = (JSON.parse(receipt.record) as { code?: unknown }).code;
  const sqlstate = sqlStateOf(error);
  await db.execute(sql`
    INSERT INTO quarantined_receipts (shard, counter, code, hash, record, reason, sqlstate)
    VALUES (${shard}, ${receipt.counter}, ${typeof code === "string" ? code : ""}, ${receipt.hash}, ${receipt.record},
            ${describeError(error).slice(0, 500)}, ${sqlstate})
    ON CONFLICT DO NOTHING`);
  const { rows } = await db.execute<{ hash: string; record: string }>(sql`
    SELECT hash, record FROM quarantined_receipts WHERE shard = ${shard} AND counter = ${receipt.counter}`);
  const kept = rows[0];
  return kept?.hash === receipt.hash && kept.record === receipt.record;
}

/** A quarantined receipt by code, its record exactly as its shard hashed it. */
export async function findQuarantined(db: Db, code: string): Promise<{ record: ChainRecord; hash: string } | null> {
  const { rows } = await db.execute<{ record: string; hash: string }>(sql`
    SELECT record, hash FROM quarantined_receipts WHERE code = ${code} LIMIT 1`);
  const row = rows[0];
  return row ? { record: JSON.parse(row.record) as ChainRecord, hash: row.hash } : null;
}

export type QuarantineSummary = { count: number; oldestAgeSeconds: number | null };

/** How many receipts are quarantined, and how long the oldest has waited (for /ops, /metrics, alerts). */
export async function quarantineSummary(db: Db): Promise<QuarantineSummary> {
  const { rows } = await db.execute<{ n: string; oldest: string | null }>(sql`
    SELECT count(*) AS n, extract(epoch from now() - min(quarantined_at)) AS oldest FROM quarantined_receipts`);
  const row = rows[0];
  return { count: Number(row?.n ?? 0), oldestAgeSeconds: row?.oldest == null ? null : Number(row.oldest) };
}
