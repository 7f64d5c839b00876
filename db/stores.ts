import { and, eq, getTableColumns, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { stores } from "./schema.ts";

export type Store = {
  tenantId: string;
  id: string;
  name: string;
  address: string | null;
  timezone: string;
  createdAt: string;
  updatedAt: string;
};

type StoreRow = typeof stores.$inferSelect;

const view = (r: StoreRow): Store => ({
  tenantId: r.tenantId,
  id: r.id,
  name: r.name,
  address: r.address,
  timezone: r.timezone,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

/** Creates or updates a store. The shard is set on creation only: a store never moves. */
export async function upsertStore(
  db: Db,
  s: { tenantId: string; id: string; name: string; address: string | null; timezone: string; shard: number },
): Promise<{ store: Store; shard: number; created: boolean }> {
  const [row] = await db
    .insert(stores)
    .values(s)
    .onConflictDoUpdate({
      target: [stores.tenantId, stores.id],
      set: { name: s.name, address: s.address, timezone: s.timezone, updatedAt: sql`now()` },
    })
    .returning({ ...getTableColumns(stores), created: sql<boolean>`(xmax = 0)` });
  if (!row) throw new Error("upsert returned no row");
  return { store: view(row), shard: row.shard, created: row.created };
}

export async function findStore(db: Db, tenantId: string, id: string): Promise<(Store & { shard: number }) | null> {
  const [row] = await db
    .select()
    .from(stores)
    .where(and(eq(stores.tenantId, tenantId), eq(stores.id, id)));
  return row ? { ...view(row), shard: row.shard } : null;
}
