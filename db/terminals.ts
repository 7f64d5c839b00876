import { and, eq, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { terminals } from "./schema.ts";

type Key = { tenantId: string; storeId: string; id: string };

const where = (k: Key) =>
  and(eq(terminals.tenantId, k.tenantId), eq(terminals.storeId, k.storeId), eq(terminals.id, k.id));

/** The Postgres mirror of a registration. Null when the id is taken in that store. */
export async function insertTerminal(
  db: Db,
  t: Key & { label: string | null; tokenHash: string; publicKey: string | null; certNotAfter: Date | null },
): Promise<{ createdAt: string } | null> {
  const [row] = await db
    .insert(terminals)
    .values(t)
    .onConflictDoNothing()
    .returning({ createdAt: terminals.createdAt });
  return row ? { createdAt: row.createdAt.toISOString() } : null;
}

export async function deleteTerminal(db: Db, k: Key): Promise<void> {
  await db.delete(terminals).where(where(k));
}

export async function markTerminalRevoked(db: Db, k: Key): Promise<void> {
  await db
    .update(terminals)
    .set({ revokedAt: sql`coalesce(${terminals.revokedAt}, now())` })
    .where(where(k));
}
