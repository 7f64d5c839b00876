/**
 * The admin audit's two readers: the tenant for itself and the operator for
 * any tenant (the trail is written by workers/shared/audit-trail.ts).
 */

import { listAudit } from "../../db/audit.ts";
import { type Ctx, pg } from "../http.ts";
import { router } from "../openapi.ts";
import { auditRoute, operatorAuditRoute } from "./routes.ts";

async function page(c: Ctx, tenantId: string, q: { before?: number | undefined; limit: number }) {
  const entries = await listAudit(pg(c).db, tenantId, q);
  const last = entries.at(-1);
  return c.json({ entries, next: entries.length === q.limit && last ? last.id : null }, 200);
}

/** The tenant's own audit (mounted after requireTenant) and any tenant's for the operator. */
export const auditRoutes = router();
auditRoutes.openapi(auditRoute, (c) => page(c, c.req.valid("param").tenantId, c.req.valid("query")));
auditRoutes.openapi(operatorAuditRoute, (c) => page(c, c.req.valid("param").tenantId, c.req.valid("query")));
