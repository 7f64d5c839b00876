/** The admin audit (migrations/0010): one append-only row per administrative change. */
import { and, desc, eq, lt } from "drizzle-orm";
import type { Db } from "./client.ts";
import { adminAudit } from "./schema.ts";

export type AuditEntry = {
  tenantId: string;
  actor: string;
  action: string;
  target?: string | null;
  detail?: Record<string, unknown> | null;
};

export type AuditRow = {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  detail: unknown;
};

export async function recordAudit(db: Db, e: AuditEntry): Promise<void> {
  await db.insert(adminAudit).values({
    tenantId: e.tenantId,
    actor: e.actor,
    action: e.action,
    target: e.target ?? null,
    detail: e.detail ?? null,
  });
}

/** Newest first, `limit` entries older than `before` (an id). */
export async function listAudit(db: Db, tenantId: string, o: { before?: number; limit: number }): Promise<AuditRow[]> {
  const rows = await db
    .select()
    .from(adminAudit)
    .where(and(eq(adminAudit.tenantId, tenantId), o.before ? lt(adminAudit.id, o.before) : undefined))
    .orderBy(desc(adminAudit.id))
    .limit(o.limit);
  return rows.map((r) => ({
    id: r.id,
    at: r.at.toISOString(),
    actor: r.actor,
    action: r.action,
    target: r.target,
    detail: r.detail,
  }));
}
