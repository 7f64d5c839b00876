/**
 * Branding lives in KV, one JSON value per tenant under `branding:{tenantId}`:
 * read on every receipt page from the edge, written rarely by the tenant. KV is
 * eventually consistent: a write is visible at once where it was made and
 * elsewhere within about 60 s.
 */
import { type Branding, type BrandingInput, defaultBranding, storedBrandingSchema } from "../../core/branding.ts";
import { logger } from "../request-context.ts";

export { defaultBranding };

export const brandingKey = (tenantId: string) => `branding:${tenantId}`;

/**
 * Set once every tenant has a value under brandingKey (its own, or the
 * defaults under its name, written when it was created or by the daily cron).
 * From then on an unknown tenant is a KV miss, and public branding reads never
 * reach Postgres.
 */
const COMPLETE_KEY = "meta:branding-complete";

/** Every tenant is created with the defaults under its name, so a KV miss means "no such tenant". */
export async function seedBranding(kv: KVNamespace, tenantId: string, name: string): Promise<void> {
  await kv.put(brandingKey(tenantId), JSON.stringify(defaultBranding(name)));
}

export async function brandingComplete(kv: KVNamespace): Promise<boolean> {
  return (await kv.get(COMPLETE_KEY)) !== null;
}

/** Seeds the tenants that have no value yet (created before seeding existed); then marks KV complete. */
export async function backfillBranding(kv: KVNamespace, tenants: { id: string; name: string }[]): Promise<number> {
  let seeded = 0;
  for (const t of tenants) {
    if ((await kv.get(brandingKey(t.id))) !== null) continue;
    await seedBranding(kv, t.id, t.name);
    seeded++;
  }
  await kv.put(COMPLETE_KEY, new Date().toISOString());
  return seeded;
}

/** The tenant's branding, or null if it never set any (or what is stored no longer validates). */
export async function getBranding(kv: KVNamespace, tenantId: string): Promise<Branding | null> {
  const stored = await kv.get(brandingKey(tenantId), "json");
  if (stored === null) return null;
  const parsed = storedBrandingSchema.safeParse(stored);
  if (!parsed.success) {
    // Never render what we cannot vouch for; the tenant's next PUT repairs it.
    logger.error({ msg: "branding: stored value does not validate", tenantId });
    return null;
  }
  return parsed.data;
}

/** Replaces the tenant's branding; returns what is now stored. */
export async function putBranding(
  kv: KVNamespace,
  tenantId: string,
  input: BrandingInput,
  now = new Date(),
): Promise<Branding> {
  const branding: Branding = { ...input, updatedAt: now.toISOString() };
  await kv.put(brandingKey(tenantId), JSON.stringify(branding));
  return branding;
}

/** The tenant's branding, else the neutral defaults under `fallbackName`. */
export async function brandingOrDefault(kv: KVNamespace, tenantId: string, fallbackName: string): Promise<Branding> {
  return (await getBranding(kv, tenantId)) ?? defaultBranding(fallbackName);
}
