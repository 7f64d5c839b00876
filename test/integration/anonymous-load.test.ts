/**
 * Anonymous requests must not each cost a Postgres connection: a hundred of
 * each kind an outsider can send, counted as connections this isolate opened.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sessionsOpened } from "../../db/client.ts";
import worker, { app } from "../../workers/index.ts";
import { fixture, issuePersisted, uid, useShardBand } from "./helpers.ts";

useShardBand(11);

async function send(path: string, init: RequestInit = {}): Promise<number> {
  const ctx = createExecutionContext();
  const res = await app.request(`https://tillproof.test${path}`, init, { ...env, VERIFY_EDGE_CACHE: "on" }, ctx);
  await res.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return res.status;
}

/** Postgres connections opened while `n` requests from `make` are answered. */
async function sessionsFor(
  n: number,
  make: (i: number) => [string, RequestInit?],
): Promise<{ sessions: number; statuses: Set<number> }> {
  const before = sessionsOpened();
  const statuses = new Set<number>();
  for (let i = 0; i < n; i++) {
    const [path, init] = make(i);
    statuses.add(await send(path, init));
  }
  return { sessions: sessionsOpened() - before, statuses };
}

describe("anonymous load on Postgres", () => {
  it("opens at most a couple of connections per 100 anonymous requests of each kind", async () => {
    const f = await fixture();
    const r = await issuePersisted(f.token);
    // The daily cron marks branding complete (every tenant seeded in KV).
    const ctx = createExecutionContext();
    await worker.scheduled({} as ScheduledController, env, ctx);
    await waitOnExecutionContext(ctx);

    const spellings = (i: number): string => {
      const compact = r.code.replaceAll("-", "");
      return [r.code, compact, compact.toLowerCase(), r.code.replaceAll("0", "O")][i % 4] ?? compact;
    };
    const measured = {
      verifyRealCode: await sessionsFor(100, (i) => [
        `/v1/verify/${spellings(i)}?q=${i}`,
        { headers: { authorization: `Bearer x${i}` } },
      ]),
      healthz: await sessionsFor(100, (i) => [`/healthz?${i}`]),
      brandingUnknownTenant: await sessionsFor(100, (i) => [`/v1/branding/${uid("nobody")}-${i}`]),
      fakeTenantKey: await sessionsFor(100, (i) => [
        `/v1/tenants/${f.tenantId}/stores`,
        { headers: { authorization: `Bearer tpk_${f.tenantId}_${"A".repeat(43)}${i}` } },
      ]),
      fakeTerminalToken: await sessionsFor(100, (i) => [
        "/v1/receipts",
        {
          method: "POST",
          headers: {
            authorization: `Bearer tpt_${i}_${"B".repeat(43)}`,
            "idempotency-key": `k${i}`,
            "content-type": "application/json",
          },
          body: "{}",
        },
      ]),
    };
    console.log(
      JSON.stringify({
        postgresSessionsPer100AnonymousRequests: Object.fromEntries(
          Object.entries(measured).map(([k, v]) => [k, v.sessions]),
        ),
      }),
    );
    expect(measured.verifyRealCode.statuses).toEqual(new Set([200]));
    expect(measured.healthz.statuses).toEqual(new Set([200]));
    expect(measured.brandingUnknownTenant.statuses).toEqual(new Set([404]));
    expect(measured.fakeTenantKey.statuses).toEqual(new Set([401]));
    expect(measured.fakeTerminalToken.statuses).toEqual(new Set([401]));
    expect(measured.verifyRealCode.sessions).toBeLessThanOrEqual(2);
    expect(measured.healthz.sessions).toBeLessThanOrEqual(2);
    expect(measured.brandingUnknownTenant.sessions).toBe(0);
    expect(measured.fakeTenantKey.sessions).toBe(0);
    expect(measured.fakeTerminalToken.sessions).toBe(0);
  });
});

describe("a fresh deployment (before any cron ran)", () => {
  it("answers unknown-tenant branding from KV alone: no Postgres session from the first request", async () => {
    await env.BRANDING.delete("meta:branding-complete");
    const { sessions, statuses } = await sessionsFor(20, (i) => [`/v1/branding/${uid("nobody")}-${i}`]);
    expect([...statuses]).toEqual([404]);
    expect(sessions).toBe(0);
  });
});
