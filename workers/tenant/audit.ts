/**
 * The admin audit from the routes' side: who made a change (the operator, or
 * the tenant key by the first 8 hex of its hash), and the two readers, the
 * tenant for itself and the operator for any tenant.
 */
import { Hono } from "hono";
import { z } from "zod";
import { slug } from "../../core/ids.ts";
import { describeError } from "../../core/log.ts";
import { type AuditEntry, listAudit, recordAudit } from "../../db/audit.ts";
import { type AppEnv, type Ctx, param, pg, readQuery, requireOperator } from "../http.ts";
import { logError } from "../request-context.ts";

/** The actor of a request that passed requireTenant or requireOperator. */
export function actorOf(c: Ctx): string {
  const key = c.get("tenantKeyHash");
  return key ? `tenant key ${key.slice(0, 8)}` : "operator";
}

/**
 * Records a change that has been made. A failure is logged, not thrown: the
 * change stands, and the caller has already been told it happened.
 */
export async function audit(c: Ctx, e: Omit<AuditEntry, "actor">): Promise<void> {
  await recordAudit(pg(c).db, { ...e, actor: actorOf(c) }).catch((err: unknown) => {
    logError({
      msg: "audit: record failed",
      tenantId: e.tenantId,
      action: e.action,
      error: describeError(err),
    });
  });
}

const pageSchema = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

async function page(c: Ctx) {
  const tenantId = param(c, "tenantId", slug);
  const q = readQuery(c, pageSchema);
  const entries = await listAudit(pg(c).db, tenantId, q);
  const last = entries.at(-1);
  return c.json({ entries, next: entries.length === q.limit && last ? last.id : null });
}

/** The tenant's own audit (mounted after requireTenant) and any tenant's for the operator. */
export const auditRoutes = new Hono<AppEnv>();
auditRoutes.get("/v1/tenants/:tenantId/audit", (c) => page(c));
auditRoutes.get("/v1/ops/tenants/:tenantId/audit", requireOperator, (c) => page(c));
