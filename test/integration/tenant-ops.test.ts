/** The operator's hold on a tenant: disable and re-enable (keys and terminals), and a key reset. */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hashSecret, newTerminalToken } from "../../core/credentials.ts";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import { shard } from "../../workers/shards.ts";
import { call, fixture, issue, OPERATOR_TOKEN, sale, useShardBand } from "./helpers.ts";

useShardBand(9);

describe("operator: tenants", () => {
  it("disables a tenant (its key and every terminal refused at once) and enables it again", async () => {
    const f = await fixture();
    const other = await fixture();
    const branding = `/v1/tenants/${f.tenantId}/branding`;
    expect((await issue(f.token, sale())).status).toBe(201);

    const off = await call("POST", `/v1/ops/tenants/${f.tenantId}/disable`, { token: OPERATOR_TOKEN });
    expect(off.status).toBe(200);
    expect(off.body).toEqual({ tenant: { id: f.tenantId, disabled: true } });
    const key = await call<{ error: { code: string } }>("GET", branding, { token: f.apiKey });
    expect(key.status).toBe(403);
    expect(key.body.error.code).toBe("tenant_disabled");
    const terminal = await issue(f.token, sale());
    expect(terminal.status).toBe(401);
    // Another tenant is not touched, and disabling twice is harmless.
    expect((await issue(other.token, sale())).status).toBe(201);
    expect((await call("POST", `/v1/ops/tenants/${f.tenantId}/disable`, { token: OPERATOR_TOKEN })).status).toBe(200);

    const on = await call("POST", `/v1/ops/tenants/${f.tenantId}/enable`, { token: OPERATOR_TOKEN });
    expect(on.body).toEqual({ tenant: { id: f.tenantId, disabled: false } });
    expect((await call("GET", branding, { token: f.apiKey })).status).toBe(200);
    const again = await issue(f.token, sale());
    expect(again.status).toBe(201);
    expect(again.body.seq).toBe(2); // the refused receipt took no number
  });

  it("resets a tenant's key for the operator: the old key stops at once, the new one works", async () => {
    const f = await fixture();
    const reset = await call<{ apiKey: string }>("POST", `/v1/ops/tenants/${f.tenantId}/key`, {
      token: OPERATOR_TOKEN,
    });
    expect(reset.status).toBe(201);
    const branding = `/v1/tenants/${f.tenantId}/branding`;
    expect((await call("GET", branding, { token: f.apiKey })).status).toBe(401);
    expect((await call("GET", branding, { token: reset.body.apiKey })).status).toBe(200);
  });

  it("answers 401 to anyone but the operator and 404 for an unknown tenant", async () => {
    const f = await fixture();
    for (const path of [`/v1/ops/tenants/${f.tenantId}/disable`, `/v1/ops/tenants/${f.tenantId}/key`]) {
      expect((await call("POST", path, { token: f.apiKey })).status).toBe(401);
    }
    expect((await call("POST", "/v1/ops/tenants/no-such-tenant/disable", { token: OPERATOR_TOKEN })).status).toBe(404);
    expect((await call("POST", "/v1/ops/tenants/no-such-tenant/key", { token: OPERATOR_TOKEN })).status).toBe(404);
  });

  it("tells a shard the tenant is disabled when a store or terminal lands on it after the disable's fan-out", async () => {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    // As the terminal route does when its read-after-write finds the tenant disabled.
    const token = newTerminalToken(env.CODE_KEY, n);
    await runInDurableObject(shard(env, n), (instance: StoreShard) =>
      instance.registerTerminal(
        n,
        { tenantId: f.tenantId, storeId: f.storeId, name: "Main Street", timezone: "Europe/Berlin" },
        { terminalId: "till-late", tokenHash: hashSecret(token) },
        true,
      ),
    );
    expect((await issue(token, sale())).status).toBe(401);
    expect((await issue(f.token, sale())).status).toBe(401); // the whole tenant, on this shard
    await call("POST", `/v1/ops/tenants/${f.tenantId}/enable`, { token: OPERATOR_TOKEN });
    expect((await issue(token, sale())).status).toBe(201);
  });
});
