import { eq } from "drizzle-orm";
import type { Db } from "./client.ts";
import { tenants } from "./schema.ts";

export type Tenant = { id: string; name: string; createdAt: string };

/** Null when the id is taken. */
export async function insertTenant(
  db: Db,
  t: { id: string; name: string; apiKeyHash: string },
): Promise<Tenant | null> {
  const [row] = await db.insert(tenants).values(t).onConflictDoNothing().returning();
  return row ? { id: row.id, name: row.name, createdAt: row.createdAt.toISOString() } : null;
}

export async function findTenant(db: Db, id: string): Promise<(Tenant & { apiKeyHash: string }) | null> {
  const [row] = await db.select().from(tenants).where(eq(tenants.id, id));
  return row
    ? { id: row.id, name: row.name, createdAt: row.createdAt.toISOString(), apiKeyHash: row.apiKeyHash }
    : null;
}

export async function setTenantKeyHash(db: Db, id: string, apiKeyHash: string): Promise<void> {
  await db.update(tenants).set({ apiKeyHash }).where(eq(tenants.id, id));
}
