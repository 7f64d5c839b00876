import { and, eq, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { stores, tenants } from "./schema.ts";

export type Tenant = { id: string; name: string; createdAt: string };

/** Null when the id is taken. */
export async function insertTenant(
  db: Db,
  t: { id: string; name: string; apiKeyHash: string },
): Promise<Tenant | null> {
  const [row] = await db.insert(tenants).values(t).onConflictDoNothing().returning();
  return row ? { id: row.id, name: row.name, createdAt: row.createdAt.toISOString() } : null;
}

export async function findTenant(
  db: Db,
  id: string,
): Promise<(Tenant & { apiKeyHash: string; disabled: boolean }) | null> {
  const [row] = await db.select().from(tenants).where(eq(tenants.id, id));
  return row
    ? {
        id: row.id,
        name: row.name,
        createdAt: row.createdAt.toISOString(),
        apiKeyHash: row.apiKeyHash,
        disabled: row.disabledAt !== null,
      }
    : null;
}

/** Disables or re-enables a tenant; the shards its stores live on, or null if there is no such tenant. */
export async function setTenantDisabled(db: Db, id: string, disabled: boolean): Promise<number[] | null> {
  const rows = await db
    .update(tenants)
    .set({ disabledAt: disabled ? sql`coalesce(${tenants.disabledAt}, now())` : null })
    .where(eq(tenants.id, id))
    .returning({ id: tenants.id });
  if (!rows.length) return null;
  const shards = await db.selectDistinct({ shard: stores.shard }).from(stores).where(eq(stores.tenantId, id));
  return shards.map((s) => s.shard);
}

/** Read after a store or terminal write commits, so a disable racing it cannot miss the shard it lands on. */
export async function isTenantDisabled(db: Db, id: string): Promise<boolean> {
  const [row] = await db.select({ disabledAt: tenants.disabledAt }).from(tenants).where(eq(tenants.id, id));
  return row?.disabledAt != null;
}

/** The operator's reset: a new key hash, whatever the old key was. False if there is no such tenant. */
export async function resetTenantKeyHash(db: Db, id: string, apiKeyHash: string): Promise<boolean> {
  const rows = await db.update(tenants).set({ apiKeyHash }).where(eq(tenants.id, id)).returning({ id: tenants.id });
  return rows.length === 1;
}

/**
 * Replaces the key hash only if it is still `expected` (compare and swap), so
 * of two concurrent rotations with the same key exactly one wins. False if it lost.
 */
export async function swapTenantKeyHash(db: Db, id: string, expected: string, apiKeyHash: string): Promise<boolean> {
  const rows = await db
    .update(tenants)
    .set({ apiKeyHash })
    .where(and(eq(tenants.id, id), eq(tenants.apiKeyHash, expected)))
    .returning({ id: tenants.id });
  return rows.length === 1;
}

/** Every tenant's id and name (the branding backfill walks them once). */
export async function listTenantNames(db: Db): Promise<{ id: string; name: string }[]> {
  return db.select({ id: tenants.id, name: tenants.name }).from(tenants).orderBy(tenants.id);
}
