import type { MiddlewareHandler } from "hono";
import { ApiError, forbidden, unauthorized } from "../../api/errors.ts";
import { config } from "../../core/config.ts";
import { bearerToken, hashSecret, parseTenantKey } from "../../core/credentials.ts";
import { slug } from "../../core/ids.ts";
import { findTenant } from "../../db/tenants.ts";
import { safeEqual } from "../../kit/crypto.ts";
import { type AppEnv, param, pg } from "../http.ts";

/**
 * A tenant key, and only for its own tenant: 401 for a missing, malformed or
 * wrong key, 403 for a valid key of another tenant. The key names its tenant,
 * so the stored hash is compared in constant time rather than looked up by value.
 */
export const requireTenant: MiddlewareHandler<AppEnv> = async (c, next) => {
  const tenantId = param(c, "tenantId", slug);
  const key = bearerToken(c.req.header("authorization"));
  const claimed = key
    ? parseTenantKey(c.env.CODE_KEY, key, { legacy: config(c.env).LEGACY_CREDENTIALS === "on" })
    : null;
  if (!key || !claimed) throw unauthorized("Send a tenant key: Authorization: Bearer tpk_…");
  const tenant = await findTenant(pg(c).db, claimed.tenantId);
  if (!tenant || !safeEqual(hashSecret(key), tenant.apiKeyHash)) throw unauthorized();
  if (claimed.tenantId !== tenantId) throw forbidden();
  if (tenant.disabled) throw new ApiError(403, "tenant_disabled", "This tenant is disabled; contact the operator.");
  c.set("tenantKeyHash", tenant.apiKeyHash);
  await next();
};
