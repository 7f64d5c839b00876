/**
 * White-label branding: the tenant sets it, anyone may read it (receipt pages,
 * apps). The tenant routes carry no auth of their own: tenant/index.ts mounts
 * this app after `requireTenant` on /v1/tenants/:tenantId/*, and Hono runs
 * middleware in registration order, so mounting it earlier would leave them open
 * (the integration tests check 401/403 on both).
 */
import { Hono } from "hono";
import { etag } from "hono/etag";
import { type Branding, brandingInputSchema } from "../../core/branding.ts";
import { notFound } from "../../core/errors.ts";
import { slug } from "../../core/ids.ts";
import { findTenant } from "../../db/tenants.ts";
import { type AppEnv, type Ctx, param, pg, readBody } from "../http.ts";
import { audit } from "./audit.ts";
import { brandingComplete, defaultBranding, getBranding, putBranding, seedBranding } from "./branding-store.ts";

export const branding = new Hono<AppEnv>();

/**
 * KV first: every tenant has a value there (seeded at creation, backfilled by
 * the cron), so once KV is complete an unknown tenant costs no Postgres
 * connection. Until then a miss is looked up, and seeded.
 */
async function currentBranding(c: Ctx, tenantId: string): Promise<Branding> {
  const kv = c.env.BRANDING;
  const stored = await getBranding(kv, tenantId);
  if (stored) return stored;
  if (await brandingComplete(kv)) throw notFound(`Tenant ${tenantId}`);
  const tenant = await findTenant(pg(c).db, tenantId);
  if (!tenant) throw notFound(`Tenant ${tenantId}`);
  await seedBranding(kv, tenantId, tenant.name);
  return defaultBranding(tenant.name);
}

branding.put("/v1/tenants/:tenantId/branding", async (c) => {
  const tenantId = param(c, "tenantId", slug);
  const input = await readBody(c, brandingInputSchema);
  const stored = await putBranding(c.env.BRANDING, tenantId, input);
  await audit(c, { tenantId, action: "branding.update", target: tenantId, detail: input });
  c.header("Cache-Control", "no-store");
  return c.json({ branding: stored }, 200);
});

branding.get("/v1/tenants/:tenantId/branding", async (c) => {
  const tenantId = param(c, "tenantId", slug);
  const current = await currentBranding(c, tenantId);
  c.header("Cache-Control", "no-store");
  return c.json({ branding: current });
});

/** Public and cacheable: a strong ETag over the exact JSON, so clients revalidate with If-None-Match → 304. */
branding.get(
  "/v1/branding/:tenantId",
  etag({ generateDigest: (body) => crypto.subtle.digest("SHA-256", body) }),
  async (c) => {
    const tenantId = param(c, "tenantId", slug);
    const current = await currentBranding(c, tenantId);
    c.header("Cache-Control", "public, max-age=60");
    return c.json({ branding: current });
  },
);
