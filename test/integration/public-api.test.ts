/** The public surface: the API description, and cross-origin reads. */
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../workers/index.ts";
import { call } from "./helpers.ts";

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<string, { requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>
  >;
};

describe("GET /openapi.json", () => {
  it("describes every route of the contract, with the request schemas the routes validate with", async () => {
    const res = await call<Doc>("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        "/v1/tenants",
        "/v1/tenants/{tenantId}/stores/{storeId}",
        "/v1/tenants/{tenantId}/stores/{storeId}/terminals",
        "/v1/tenants/{tenantId}/stores/{storeId}/terminals/{terminalId}",
        "/v1/tenants/{tenantId}/keys",
        "/v1/tenants/{tenantId}/branding",
        "/v1/branding/{tenantId}",
        "/v1/receipts",
        "/v1/receipts/batch",
        "/v1/verify/{code}",
        "/r/{code}",
        "/v1/ops/pipeline",
        "/healthz",
      ]),
    );
    const receipt = res.body.paths["/v1/receipts"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(receipt?.required).toEqual(expect.arrayContaining(["issuedAt", "currency", "items", "total", "payments"]));
  });
});

describe("CORS on the public reads", () => {
  it("lets any site read verify and branding, and nothing else", async () => {
    const preflight = await call("OPTIONS", "/v1/verify/ABCD-EFGH-JKMN-PQRS", {
      headers: { origin: "https://shop.example", "access-control-request-method": "GET" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    const branding = await call("GET", "/v1/branding/no-such-tenant", { headers: { origin: "https://shop.example" } });
    expect(branding.headers.get("access-control-allow-origin")).toBe("*");
    const admin = await call("POST", "/v1/tenants", { headers: { origin: "https://shop.example" }, body: {} });
    expect(admin.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("GET /healthz", () => {
  it("makes a real round trip to Postgres, and names what failed when it cannot", async () => {
    const ok = await call("GET", "/healthz");
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ ok: true, checks: { postgres: "ok", codeKey: "ok", logKey: "ok" } });

    const down = await app.request(
      "https://tillproof.test/healthz",
      {},
      { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/unreachable" },
      createExecutionContext(),
    );
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBeTruthy();
    expect(await down.json()).toMatchObject({ ok: false, checks: { postgres: "unreachable" } });
  });

  it("names a missing or short CODE_KEY and a bad LOG_SIGNING_KEY, and refuses to issue or verify without a CODE_KEY", async () => {
    const bad = { ...env, CODE_KEY: "short", LOG_SIGNING_KEY: "PRIVATE+KEY+x+00000000+AAAA" };
    const health = await app.request("https://tillproof.test/healthz", {}, bad, createExecutionContext());
    expect(health.status).toBe(503);
    const body = (await health.json()) as { checks: Record<string, string> };
    expect(body.checks.codeKey).toMatch(/CODE_KEY is missing or shorter than 12/);
    expect(body.checks.logKey).toMatch(/LOG_SIGNING_KEY is invalid/);
    for (const [method, path] of [
      ["POST", "/v1/receipts"],
      ["POST", "/v1/receipts/batch"],
      ["GET", "/v1/verify/0000-0000-0000-0000"],
    ] as const) {
      const res = await app.request(
        `https://tillproof.test${path}`,
        { method, headers: { origin: "https://shop.example" } },
        bad,
        createExecutionContext(),
      );
      expect(res.status, path).toBe(503);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe("misconfigured");
      expect(error.message).not.toContain("CODE_KEY"); // the public is not told how the service is set up
      if (path.startsWith("/v1/verify")) expect(res.headers.get("access-control-allow-origin")).toBe("*");
    }
    // The receipt page answers with its own 503 page and its security headers.
    const page = await app.request("https://tillproof.test/r/0000-0000-0000-0000", {}, bad, createExecutionContext());
    expect(page.status).toBe(503);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
  });
});
