/**
 * The admin audit trail, written from the routes: who made a change (the
 * operator, or the tenant key by the first 8 hex of its hash) and what.
 */
import { type AuditEntry, recordAudit } from "../../db/audit.ts";
import { describeError } from "../../kit/describe-error.ts";
import { type Ctx, pg } from "../http.ts";
import { logger } from "../request-context.ts";

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
    logger.error({
      msg: "audit: record failed",
      tenantId: e.tenantId,
      action: e.action,
      error: describeError(err),
    });
  });
}
