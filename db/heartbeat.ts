/**
 * The control plane's heartbeat (migrations/0025): the primary's minute cron
 * writes it, and each receipts database's replicated copy shows how far that
 * database's copy of stores, time zones and webhooks is behind (docs/scale.md §6a).
 */
import { sql } from "drizzle-orm";
import type { Db } from "./client.ts";

/** The lag of a copy that never received a heartbeat (a finite number, so JSON and Prometheus can carry it). */
export const NEVER = 1e9;

export async function beat(db: Db): Promise<void> {
  await db.execute(sql`UPDATE control_heartbeat SET at = now() WHERE id = 1`);
}

/** When the heartbeat this database holds was written (epoch ms); null if it holds none. */
export async function heartbeatAt(db: Db): Promise<number | null> {
  const { rows } = await db.execute<{ ms: string }>(
    sql`SELECT (extract(epoch from at) * 1000)::bigint AS ms FROM control_heartbeat WHERE id = 1`,
  );
  return rows[0] ? Number(rows[0].ms) : null;
}

/** How many seconds the slowest of `replicas` is behind `primary`'s heartbeat, and which; null without replicas. */
export async function controlPlaneLag(
  primary: Db,
  replicas: { name: string; db: Db }[],
): Promise<{ seconds: number; database: string } | null> {
  if (!replicas.length) return null;
  const [at, ...copies] = await Promise.all([heartbeatAt(primary), ...replicas.map((r) => heartbeatAt(r.db))]);
  let worst: { seconds: number; database: string } | null = null;
  for (const [i, copy] of copies.entries()) {
    // A copy with no heartbeat at all never received one: as far behind as can be said.
    const seconds = at === null ? 0 : copy === null ? NEVER : Math.max(0, (at - copy) / 1000);
    if (!worst || seconds > worst.seconds) worst = { seconds, database: replicas[i]?.name ?? "" };
  }
  return worst;
}
