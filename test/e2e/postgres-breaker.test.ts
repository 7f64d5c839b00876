/**
 * The Postgres breaker through a real outage: a TCP proxy between the tunnel and
 * Postgres first refuses connections, then accepts them and never answers
 * (black-holed). In both, once the breaker is open, Postgres-dependent routes
 * answer 503 with Retry-After without waiting on a connection, receipts keep
 * being issued, and probes reach Postgres one at a time and rarely. Prints the
 * latencies it saw (the closing note's figures come from one run of this).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callStack, OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";

let stack: Stack;
let tenantId = "";
let apiKey = "";
let token = "";
let ROUTES: string[] = [];

const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))] ?? 0;

beforeAll(async () => {
  stack = await startStack({ postgresProxy: true });
  tenantId = `breaker-${Date.now().toString(36)}`;
  const t = await callStack(stack, "POST", "/v1/tenants", OPERATOR_TOKEN, { id: tenantId, name: "Breaker" });
  apiKey = t.body.apiKey ?? "";
  if (!apiKey) throw new Error(`tenant: ${t.status} ${t.text} ${stack.logs().slice(-10).join("\n")}`);
  await callStack(stack, "PUT", `/v1/tenants/${tenantId}/stores/main`, apiKey, { name: "Main", timezone: "UTC" });
  const r = await callStack(stack, "POST", `/v1/tenants/${tenantId}/stores/main/terminals`, apiKey, { id: "till-1" });
  token = r.body.token ?? "";
  const issued = await callStack(stack, "POST", "/v1/receipts", token, sale(0), { "idempotency-key": "first" });
  const code = issued.body.code ?? "";
  ROUTES = [
    `/v1/tenants/${tenantId}/analytics/sales?from=2026-01-01&to=2026-01-02`,
    `/v1/verify/${code}`,
    `/r/${code}`,
    `/v1/tenants/${tenantId}/stores/main`,
    `/v1/tenants/${tenantId}/webhooks`,
    "/healthz",
  ];
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const sale = (n: number) => ({
  issuedAt: new Date().toISOString(),
  currency: "EUR",
  items: [{ name: `Item ${n}`, quantity: 1, unitPrice: 100 + n, total: 100 + n }],
  total: 100 + n,
  payments: [{ method: "cash", amount: 100 + n }],
});

/** Timed calls for `ms`: a Postgres-dependent read and a sale, side by side, a few at a time. */
async function during(ms: number, n0: number) {
  const reads: { path: string; status: number; retryAfter: string | null; ms: number }[] = [];
  const sales: { status: number; ms: number }[] = [];
  const end = Date.now() + ms;
  let n = n0;
  const loop = async (kind: "read" | "sale") => {
    while (Date.now() < end) {
      const t0 = performance.now();
      if (kind === "read") {
        const path = ROUTES[reads.length % ROUTES.length] ?? "";
        const res = await fetch(`${stack.baseUrl}${path}`, {
          method: path.includes("stores") ? "PUT" : "GET",
          headers: {
            authorization: `Bearer ${path.startsWith("/healthz") ? "" : apiKey}`,
            "content-type": "application/json",
          },
          body: path.includes("stores") ? JSON.stringify({ name: "Main", timezone: "UTC" }) : undefined,
        });
        await res.text();
        reads.push({
          path,
          status: res.status,
          retryAfter: res.headers.get("retry-after"),
          ms: performance.now() - t0,
        });
      } else {
        const i = n++;
        const res = await callStack(stack, "POST", "/v1/receipts", token, sale(i), { "idempotency-key": `b-${i}` });
        sales.push({ status: res.status, ms: performance.now() - t0 });
      }
    }
  };
  await Promise.all([loop("read"), loop("read"), loop("read"), loop("sale")]);
  return { reads, sales };
}

describe("the Postgres breaker", () => {
  for (const mode of ["down", "blackhole"] as const) {
    it(`answers at once while Postgres is ${mode === "down" ? "refusing connections" : "black-holed"}`, async () => {
      const proxy = stack.postgresProxy;
      if (!proxy) throw new Error("no proxy");
      const healthy = await callStack(
        stack,
        "GET",
        `/v1/tenants/${tenantId}/analytics/sales?from=2026-01-01&to=2026-01-02`,
        apiKey,
      );
      expect(healthy.status).toBe(200);
      proxy.mode(mode);
      // Let the breaker see the outage and open.
      const warm = await during(mode === "down" ? 1_000 : 7_000, mode === "down" ? 0 : 10_000);
      console.log(
        `warm-up (${mode}): ${warm.reads.length} reads, first: ${warm.reads
          .slice(0, 12)
          .map((r) => `${r.path.slice(1, 8)}:${r.status}:${r.ms.toFixed(0)}`)
          .join(" ")}`,
      );
      const before = proxy.accepted();
      const { reads, sales } = await during(12_000, mode === "down" ? 1_000 : 20_000);
      const probes = proxy.accepted() - before;
      proxy.mode("up");
      expect(p95(reads.map((r) => r.ms))).toBeGreaterThan(0);
      for (const path of ROUTES) {
        const mine = reads.filter((r) => r.path === path);
        console.log(
          `  ${path.slice(0, 40)} ${mine.length} p95 ${p95(mine.map((r) => r.ms)).toFixed(1)} ms statuses ${[...new Set(mine.map((r) => r.status))]}`,
        );
      }
      console.log(
        `breaker (${mode}): ${reads.length} reads p95 ${p95(reads.map((r) => r.ms)).toFixed(1)} ms; ` +
          `${sales.length} sales p95 ${p95(sales.map((s) => s.ms)).toFixed(1)} ms; ${probes} connections reached Postgres in 12 s`,
      );
      expect(reads.length).toBeGreaterThan(20);
      // Verify and the receipt page answer from the shard while Postgres is away.
      for (const r of reads.filter((x) => !x.path.includes("/verify/") && !x.path.startsWith("/r/"))) {
        expect(r.status).toBe(503);
        expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      }
      expect(sales.every((s) => s.status === 201)).toBe(true);
      // Half-open probes: one at a time, a few in 12 s, whatever the request rate.
      expect(probes).toBeLessThanOrEqual(4);
      // Recovers once Postgres is back (the next probe closes the breaker).
      await expect
        .poll(
          async () =>
            (
              await callStack(
                stack,
                "GET",
                `/v1/tenants/${tenantId}/analytics/sales?from=2026-01-01&to=2026-01-02`,
                apiKey,
              )
            ).status,
          { timeout: 30_000, interval: 500 },
        )
        .toBe(200);
    }, 90_000);
  }
});
