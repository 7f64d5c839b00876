/** The operator's hold on a tenant: disable and re-enable (keys and terminals), and a key reset. */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hashSecret, newTerminalToken } from "../../core/credentials.ts";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import { shard } from "../../workers/shards.ts";
import { call, fixture, issue, OPERATOR_TOKEN, sale, sqlQuery, useShardBand } from "./helpers.ts";

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

describe("admin audit", () => {
  type Entry = { id: number; at: string; actor: string; action: string; target: string | null };
  const read = (path: string, token: string) => call<{ entries: Entry[]; next: number | null }>("GET", path, { token });

  it("records who changed what and when, for the tenant to read and the operator too, and nobody to rewrite", async () => {
    const f = await fixture();
    const other = await fixture();
    await call("PUT", `/v1/tenants/${f.tenantId}/branding`, {
      token: f.apiKey,
      body: { displayName: "Corner Shop", primaryColor: "#123456" },
    });
    await call("DELETE", `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals/${f.terminalId}`, {
      token: f.apiKey,
    });
    await call("POST", `/v1/ops/tenants/${f.tenantId}/disable`, { token: OPERATOR_TOKEN });
    await call("POST", `/v1/ops/tenants/${f.tenantId}/enable`, { token: OPERATOR_TOKEN });
    const rotated = await call<{ apiKey: string }>("POST", `/v1/tenants/${f.tenantId}/keys`, { token: f.apiKey });

    const mine = await read(`/v1/tenants/${f.tenantId}/audit`, rotated.body.apiKey);
    expect(mine.status).toBe(200);
    const keyId = hashSecret(f.apiKey).slice(0, 8);
    expect(mine.body.entries.map((e) => [e.action, e.actor])).toEqual([
      ["key.rotate", `tenant key ${keyId}`],
      ["tenant.enable", "operator"],
      ["tenant.disable", "operator"],
      ["terminal.revoke", `tenant key ${keyId}`],
      ["branding.update", `tenant key ${keyId}`],
      ["terminal.create", `tenant key ${keyId}`],
      ["store.create", `tenant key ${keyId}`],
      ["tenant.create", "operator"],
    ]);
    expect(mine.body.entries[3]?.target).toBe(`${f.storeId}/${f.terminalId}`);
    expect(Date.parse(mine.body.entries[0]?.at ?? "")).toBeGreaterThan(Date.now() - 60_000);

    // Paged newest first; the operator reads the same; another tenant and anonymous callers cannot.
    const first = await read(`/v1/tenants/${f.tenantId}/audit?limit=3`, rotated.body.apiKey);
    expect(first.body.entries).toHaveLength(3);
    const rest = await read(`/v1/tenants/${f.tenantId}/audit?before=${first.body.next}`, rotated.body.apiKey);
    expect([...first.body.entries, ...rest.body.entries]).toEqual(mine.body.entries);
    expect((await read(`/v1/ops/tenants/${f.tenantId}/audit`, OPERATOR_TOKEN)).body.entries).toEqual(mine.body.entries);
    expect((await read(`/v1/tenants/${f.tenantId}/audit`, other.apiKey)).status).toBe(403);
    expect((await read(`/v1/ops/tenants/${f.tenantId}/audit`, other.apiKey)).status).toBe(401);
    expect((await read(`/v1/tenants/${f.tenantId}/audit?limit=0`, rotated.body.apiKey)).status).toBe(400);

    // Append-only, for the Worker's role and even in replica mode.
    for (const statement of [
      `UPDATE admin_audit SET actor = 'nobody' WHERE tenant_id = '${f.tenantId}'`,
      `DELETE FROM admin_audit WHERE tenant_id = '${f.tenantId}'`,
      "TRUNCATE admin_audit",
    ]) {
      await expect(sqlQuery(statement), statement).rejects.toThrow(/append-only/);
    }
  });
});
