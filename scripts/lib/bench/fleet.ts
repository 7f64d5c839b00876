/**
 * Tenants, stores and terminals, set up through the public API exactly as an
 * operator and tenant admins would: POST /v1/tenants (operator token), PUT
 * store, POST terminal (tenant key), PUT branding.
 */
import { apiCall } from "../api.ts";

export type Terminal = {
  tenantId: string;
  storeId: string;
  terminalId: string;
  token: string;
  /** The shard the store lives on (terminal tokens carry it: tpt_<shard>_…). */
  shard: number;
};
export type Fleet = {
  tenants: { id: string; key: string }[];
  terminals: Terminal[];
  shards: number[];
  /** Each store's time zone, by "tenant/store". */
  zones: Map<string, string>;
};

const TIMEZONES = ["Europe/Berlin", "Europe/Vienna", "Europe/Zurich", "Europe/London", "Europe/Stockholm"];

function must(ok: boolean, what: string, r: { status: number; body: unknown }): void {
  if (!ok) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

/**
 * `stores` stores spread round-robin over `tenants` tenants, `terminals`
 * terminals spread round-robin over the stores. Ids start with `prefix`, so
 * runs never collide.
 */
export async function setupFleet(opts: {
  base: string;
  operatorToken: string;
  prefix: string;
  tenants: number;
  stores: number;
  terminals: number;
  concurrency?: number;
}): Promise<Fleet> {
  const { base, prefix } = opts;
  const limit = opts.concurrency ?? 8;
  const tenantIds = Array.from({ length: opts.tenants }, (_, i) => `${prefix}-t${i + 1}`);
  const tenants = await pool(tenantIds, limit, async (id, i) => {
    const r = await apiCall(base, "POST", "/v1/tenants", opts.operatorToken, { id, name: `Retail Group ${i + 1}` });
    must(r.status === 201, `create tenant ${id}`, r);
    const key = String(r.body?.apiKey);
    const b = await apiCall(base, "PUT", `/v1/tenants/${id}/branding`, key, {
      displayName: `Retail Group ${i + 1}`,
      primaryColor: "#0a7cff",
      receiptFooter: "Thank you for shopping with us!",
    });
    must(b.status === 200, `branding of ${id}`, b);
    return { id, key };
  });
  const stores = Array.from({ length: opts.stores }, (_, j) => {
    const tenant = tenants[j % tenants.length] as { id: string; key: string };
    return { tenant, storeId: `s${j + 1}` };
  });
  await pool(stores, limit, async ({ tenant, storeId }, j) => {
    const r = await apiCall(base, "PUT", `/v1/tenants/${tenant.id}/stores/${storeId}`, tenant.key, {
      name: `Store ${j + 1}`,
      address: `Hauptstraße ${j + 1}, Berlin`,
      timezone: TIMEZONES[j % TIMEZONES.length],
    });
    must(r.status === 201 || r.status === 200, `store ${tenant.id}/${storeId}`, r);
  });
  const slots = Array.from({ length: opts.terminals }, (_, k) => {
    const store = stores[k % stores.length] as (typeof stores)[number];
    return { store, terminalId: `till-${Math.floor(k / stores.length) + 1}` };
  });
  const terminals = await pool(slots, limit, async ({ store, terminalId }) => {
    const path = `/v1/tenants/${store.tenant.id}/stores/${store.storeId}/terminals`;
    const r = await apiCall(base, "POST", path, store.tenant.key, { id: terminalId, label: "Checkout" });
    must(r.status === 201, `terminal ${path}/${terminalId}`, r);
    const token = String(r.body?.token);
    const shard = Number(/^tpt_(\d+)_/.exec(token)?.[1] ?? -1);
    return { tenantId: store.tenant.id, storeId: store.storeId, terminalId, token, shard };
  });
  const zones = new Map(
    stores.map(({ tenant, storeId }, j) => [`${tenant.id}/${storeId}`, TIMEZONES[j % TIMEZONES.length] as string]),
  );
  return { tenants, terminals, shards: [...new Set(terminals.map((t) => t.shard))].sort((a, b) => a - b), zones };
}
