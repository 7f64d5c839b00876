/**
 * The admin audit from the routes' side: who made a change (the operator, or
 * the tenant key by the first 8 hex of its hash), and the two readers, the
 * tenant for itself and the operator for any tenant.
 */

import { type AuditEntry, listAudit, recordAudit } from "../../db/audit.ts";
import { describeError } from "../../kit/describe-error.ts";
import { type Ctx, pg } from "../http.ts";
import { router } from "../openapi.ts";
import { logError } from "../request-context.ts";
import { auditRoute, operatorAuditRoute } from "./routes.ts";

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

async function page(c: Ctx, tenantId: string, q: { before?: number | undefined; limit: number }) {
  const entries = await listAudit(pg(c).db, tenantId, q);
  const last = entries.at(-1);
  return c.json({ entries, next: entries.length === q.limit && last ? last.id : null }, 200);
}

/** The tenant's own audit (mounted after requireTenant) and any tenant's for the operator. */
export const auditRoutes = router();
auditRoutes.openapi(auditRoute, (c) => page(c, c.req.valid("param").tenantId, c.req.valid("query")));
auditRoutes.openapi(operatorAuditRoute, (c) => page(c, c.req.valid("param").tenantId, c.req.valid("query")));
