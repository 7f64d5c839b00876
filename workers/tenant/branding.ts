/**
 * White-label branding: the tenant sets it, anyone may read it (receipt pages,
 * apps). The tenant routes carry no auth of their own: tenant/index.ts mounts
 * this app after `requireTenant` on /v1/tenants/:tenantId/*, and Hono runs
 * middleware in registration order, so mounting it earlier would leave them open
 * (the integration tests check 401/403 on both).
 */

import { notFound } from "../../api/errors.ts";
import type { Branding } from "../../core/branding.ts";
import { findTenant } from "../../db/tenants.ts";
import { type Ctx, pg } from "../http.ts";
import { router } from "../openapi.ts";
import { audit } from "../shared/audit-trail.ts";
import { defaultBranding, getBranding, putBranding, seedBranding } from "../shared/branding-store.ts";
import { getBrandingRoute, publicBrandingRoute, putBrandingRoute } from "./routes.ts";

export const branding = router();

/**
 * KV only for the public read: every tenant has a value there (seeded at
 * creation; a tenant from before seeding gets its own from the minute cron), so
 * an unknown tenant is a KV miss and an anonymous flood never opens a Postgres
 * session, from a deployment's first request on.
 */
async function publicBranding(c: Ctx, tenantId: string): Promise<Branding> {
  const stored = await getBranding(c.env.BRANDING, tenantId);
  if (!stored) throw notFound(`Tenant ${tenantId}`);
  return stored;
}

/** The tenant's own read (authenticated): a miss is looked up in Postgres and seeded. */
async function currentBranding(c: Ctx, tenantId: string): Promise<Branding> {
  const kv = c.env.BRANDING;
  const stored = await getBranding(kv, tenantId);
  if (stored) return stored;
  const tenant = await findTenant(pg(c).db, tenantId);
  if (!tenant) throw notFound(`Tenant ${tenantId}`);
  await seedBranding(kv, tenantId, tenant.name);
  return defaultBranding(tenant.name);
}

branding.openapi(putBrandingRoute, async (c) => {
  const { tenantId } = c.req.valid("param");
  const input = c.req.valid("json");
  const stored = await putBranding(c.env.BRANDING, tenantId, input);
  await audit(c, { tenantId, action: "branding.update", target: tenantId, detail: input });
  c.header("Cache-Control", "no-store");
  return c.json({ branding: stored }, 200);
});

branding.openapi(getBrandingRoute, async (c) => {
  const { tenantId } = c.req.valid("param");
  const current = await currentBranding(c, tenantId);
  c.header("Cache-Control", "no-store");
  return c.json({ branding: current }, 200);
});

/** Public and cacheable: a strong ETag over the exact JSON (routes.ts), so clients revalidate with If-None-Match → 304. */
branding.openapi(publicBrandingRoute, async (c) => {
  const { tenantId } = c.req.valid("param");
  const current = await publicBranding(c, tenantId);
  c.header("Cache-Control", "public, max-age=60");
  return c.json({ branding: current }, 200);
});
