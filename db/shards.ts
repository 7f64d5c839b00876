import { sql } from "drizzle-orm";
import type { Db } from "./client.ts";

/** The shards that hold at least one store (the only ones worth asking for progress). */
export async function shardsInUse(db: Db): Promise<number[]> {
  const { rows } = await db.execute<{ shard: number }>(sql`SELECT DISTINCT shard FROM stores ORDER BY shard`);
  return rows.map((r) => Number(r.shard));
}
