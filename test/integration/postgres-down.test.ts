/** With Postgres unreachable: 503s that say so at once (a breaker), and an operator who still sees the shards. */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { breakerFor } from "../../db/client.ts";
import { app } from "../../workers/index.ts";
import { fixture, issue, OPERATOR_TOKEN, sale, uid, useShardBand } from "./helpers.ts";

useShardBand(12);

async function send(down: typeof env, path: string, token?: string) {
  const ctx = createExecutionContext();
  const started = Date.now();
  const res = await app.request(
    `https://tillproof.test${path}`,
    token ? { headers: { authorization: `Bearer ${token}` } } : {},
    down,
    ctx,
  );
  const body = (await res.json()) as Record<string, unknown>;
  await waitOnExecutionContext(ctx);
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body, ms: Date.now() - started };
}

describe("Postgres down", () => {
  it("answers 503 with Retry-After instead of 500, opens a breaker, and keeps the pipeline report", async () => {
    const f = await fixture();
    expect((await issue(f.token, sale())).status).toBe(201);
    // A port nothing listens on stands in for the outage (each test run its own URL: its own breaker).
    const url = `postgres://postgres@127.0.0.1:1/${uid("down")}`;
    const down = { ...env, DATABASE_URL: url };

    // Tenant admin needs Postgres for the key: 503 with Retry-After, never 500.
    for (let i = 0; i < 3; i++) {
      const r = await send(down, `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals/x`, f.apiKey);
      expect(r.status).toBe(503);
      expect(r.retryAfter).toBeTruthy();
    }
    // Three failed connects: the breaker is open, and the next request does not try at all.
    expect(breakerFor(url).state(Date.now())).toBe("open");
    const fast = await send(down, `/v1/tenants/${f.tenantId}/branding`, f.apiKey);
    expect(fast.status).toBe(503);
    expect(Number(fast.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(fast.retryAfter)).toBeLessThanOrEqual(10);
    expect((fast.body.error as { code: string }).code).toBe("unavailable");

    // The operator still sees the shards, asked directly.
    const pipeline = await send(down, "/v1/ops/pipeline", OPERATOR_TOKEN);
    expect(pipeline.status).toBe(200);
    expect(pipeline.body.postgres).toBe("unreachable");
    const n = Number(f.token.split("_")[1]);
    const mine = (pipeline.body.shards as { shard: number; issued?: number }[]).find((s) => s.shard === n);
    expect(mine?.issued).toBeGreaterThanOrEqual(1);

    // Health says which part is down.
    const health = await send(down, "/healthz");
    expect(health.status).toBe(503);
    expect((health.body.checks as Record<string, string>).postgres).toBe("unreachable");
  });
});
