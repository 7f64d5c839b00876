/** Operator and tenant administration: tenants, stores, terminals, keys. */

import { ApiError, notFound } from "../../api/errors.ts";
import { config } from "../../core/config.ts";
import { hashSecret, newTenantKey, newTerminalToken } from "../../core/credentials.ts";
import { shardForStore } from "../../core/ids.ts";
import type { CertifiedTerminal } from "../../core/offline.ts";
import { findStore, upsertStore } from "../../db/stores.ts";
import {
  insertTenant,
  isTenantDisabled,
  resetTenantKeyHash,
  setTenantDisabled,
  swapTenantKeyHash,
} from "../../db/tenants.ts";
import { deleteTerminal, insertTerminal, markTerminalRevoked } from "../../db/terminals.ts";
import { type Ctx, KiB, limitBody, pg } from "../http.ts";
import { router } from "../openapi.ts";
import { callShard, shard, shardCount } from "../shards.ts";
import { audit } from "../shared/audit-trail.ts";
import { seedBranding } from "../shared/branding-store.ts";
import { certKeys, signCertificate } from "../shared/cert-keys.ts";
import { auditRoutes } from "./audit.ts";
import { requireTenant } from "./auth.ts";
import { branding } from "./branding.ts";
import {
  createTenantRoute,
  disableTenantRoute,
  enableTenantRoute,
  putStoreRoute,
  registerTerminalRoute,
  resetKeyRoute,
  revokeTerminalRoute,
  rotateKeyRoute,
} from "./routes.ts";

export const tenant = router();

tenant.use("*", limitBody(64 * KiB));

tenant.openapi(createTenantRoute, async (c) => {
  const input = c.req.valid("json");
  const apiKey = newTenantKey(c.env.CODE_KEY, input.id);
  const created = await insertTenant(pg(c).db, { ...input, apiKeyHash: hashSecret(apiKey) });
  if (!created) throw new ApiError(409, "already_exists", `Tenant ${input.id} already exists.`);
  await seedBranding(c.env.BRANDING, created.id, created.name);
  await audit(c, { tenantId: created.id, action: "tenant.create", target: created.id, detail: { name: created.name } });
  return c.json({ tenant: created, apiKey }, 201);
});

/** The operator disables or re-enables a tenant: its keys (Postgres) and terminals (its shards) are refused at once. */
for (const [route, action, disabled] of [
  [disableTenantRoute, "disable", true],
  [enableTenantRoute, "enable", false],
] as const) {
  tenant.openapi(route, async (c) => {
    const { tenantId } = c.req.valid("param");
    const shards = await setTenantDisabled(pg(c).db, tenantId, disabled);
    if (!shards) throw notFound("Tenant");
    await Promise.all(shards.map((n) => callShard(n, () => shard(c.env, n).setTenantDisabled(tenantId, disabled))));
    await audit(c, { tenantId, action: `tenant.${action}`, target: tenantId });
    return c.json({ tenant: { id: tenantId, disabled } }, 200);
  });
}

/** The operator's key reset, for a tenant that lost its key: the new key is shown once, the old one stops at once. */
tenant.openapi(resetKeyRoute, async (c) => {
  const { tenantId } = c.req.valid("param");
  const apiKey = newTenantKey(c.env.CODE_KEY, tenantId);
  if (!(await resetTenantKeyHash(pg(c).db, tenantId, hashSecret(apiKey)))) throw notFound("Tenant");
  await audit(c, { tenantId, action: "key.reset", target: tenantId, detail: { key: hashSecret(apiKey).slice(0, 8) } });
  return c.json({ apiKey }, 201);
});

tenant.use("/v1/tenants/:tenantId/*", requireTenant);

tenant.openapi(putStoreRoute, async (c) => {
  const { tenantId, storeId } = c.req.valid("param");
  const input = c.req.valid("json");
  const {
    store,
    shard: n,
    created,
  } = await upsertStore(pg(c).db, {
    tenantId,
    id: storeId,
    name: input.name,
    address: input.address ?? null,
    timezone: input.timezone,
    shard: shardForStore(tenantId, storeId, shardCount(c.env)),
  });
  const disabled = await isTenantDisabled(pg(c).db, tenantId);
  await callShard(n, () =>
    shard(c.env, n).upsertStore(n, { tenantId, storeId, name: store.name, timezone: store.timezone }, disabled),
  );
  await audit(c, {
    tenantId,
    action: created ? "store.create" : "store.update",
    target: storeId,
    detail: { name: store.name, timezone: store.timezone },
  });
  return c.json({ store }, created ? 201 : 200);
});

/** A terminal certificate (contract v1.2), valid TERMINAL_CERT_DAYS from now. */
async function certify(
  c: Ctx,
  t: Omit<CertifiedTerminal, "notAfter">,
): Promise<{ certificate: string; notAfter: string }> {
  const keys = await certKeys(c.env).catch(() => null);
  if (!keys) {
    throw new ApiError(503, "misconfigured", "Terminal certificates cannot be signed yet; the operator is alerted.", {
      retryAfter: 60,
    });
  }
  const notAfter = new Date(Date.now() + config(c.env).TERMINAL_CERT_DAYS * 86_400_000).toISOString();
  return { certificate: await signCertificate(keys, { ...t, notAfter }), notAfter };
}

tenant.openapi(registerTerminalRoute, async (c) => {
  const { tenantId, storeId } = c.req.valid("param");
  const input = c.req.valid("json");
  const { db } = pg(c);
  const store = await findStore(db, tenantId, storeId);
  if (!store) throw notFound(`Store ${storeId}`);
  const token = newTerminalToken(c.env.CODE_KEY, store.shard);
  const tokenHash = hashSecret(token);
  const key = { tenantId, storeId, id: input.id };
  // A certificate needs the gateway's key: without it, a key is refused rather than kept uncertified.
  const cert = input.publicKey
    ? await certify(c, { tenantId, storeId, terminalId: input.id, publicKey: input.publicKey })
    : null;
  const mirrored = await insertTerminal(db, {
    ...key,
    label: input.label ?? null,
    tokenHash,
    publicKey: input.publicKey ?? null,
    certNotAfter: cert ? new Date(cert.notAfter) : null,
  });
  if (!mirrored) throw new ApiError(409, "already_exists", `Terminal ${input.id} already exists in store ${storeId}.`);
  const n = store.shard;
  // Read after the write: a disable that raced this request finds the store, or this finds the disable.
  const disabled = await isTenantDisabled(db, tenantId);
  await callShard(n, () =>
    shard(c.env, n).registerTerminal(
      n,
      { tenantId, storeId, name: store.name, timezone: store.timezone },
      { terminalId: input.id, tokenHash, publicKey: input.publicKey ?? null },
      disabled,
    ),
  ).catch(async (e) => {
    // The token was never shown: undo the Postgres row so a retry can register the id.
    await deleteTerminal(db, key);
    throw e;
  });
  const terminal = {
    id: input.id,
    storeId,
    ...(input.label ? { label: input.label } : {}),
    createdAt: mirrored.createdAt,
  };
  await audit(c, { tenantId, action: "terminal.create", target: `${storeId}/${input.id}` });
  return c.json({ terminal, token, ...(cert ?? {}) }, 201);
});

tenant.openapi(revokeTerminalRoute, async (c) => {
  const { tenantId, storeId, terminalId } = c.req.valid("param");
  const { db } = pg(c);
  const store = await findStore(db, tenantId, storeId);
  if (!store) throw notFound(`Store ${storeId}`);
  const n = store.shard;
  // The shard first: that is where the next request is authenticated.
  const revoked = await callShard(n, () => shard(c.env, n).revokeTerminal({ tenantId, storeId, terminalId }));
  if (!revoked) throw notFound(`Terminal ${terminalId}`);
  await markTerminalRevoked(db, { tenantId, storeId, id: terminalId });
  await audit(c, { tenantId, action: "terminal.revoke", target: `${storeId}/${terminalId}` });
  return c.body(null, 204);
});

tenant.openapi(rotateKeyRoute, async (c) => {
  const { tenantId } = c.req.valid("param");
  const apiKey = newTenantKey(c.env.CODE_KEY, tenantId);
  const current = c.get("tenantKeyHash");
  if (!current || !(await swapTenantKeyHash(pg(c).db, tenantId, current, hashSecret(apiKey)))) {
    throw new ApiError(409, "key_rotated", "The key was rotated by another request meanwhile; use the newest key.");
  }
  await audit(c, { tenantId, action: "key.rotate", target: tenantId, detail: { key: hashSecret(apiKey).slice(0, 8) } });
  return c.json({ apiKey }, 201);
});

// Last, so requireTenant above also guards its /v1/tenants/:tenantId/branding and audit routes (and, mounted
// after tenant in workers/index.ts, the analytics and webhooks routes).
tenant.route("/", branding);
tenant.route("/", auditRoutes);
