/** The public surface: the API description, and cross-origin reads. */
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { app } from "../../workers/index.ts";
import { call, OPERATOR_TOKEN } from "./helpers.ts";

type Operation = {
  operationId?: string;
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: { $ref?: string; required?: string[] }; example?: unknown }> };
};
type Doc = {
  openapi: string;
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { required?: string[] }>; securitySchemes: Record<string, unknown> };
  webhooks: Record<string, unknown>;
};

describe("GET /openapi.json", () => {
  it("documents every route the app serves, each once, with an operationId and its security", async () => {
    const res = await call<Doc>("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(res.body.servers).toEqual([expect.objectContaining({ url: "https://tillproof.test" })]);
    const documented = Object.entries(res.body.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
    );
    // The app's own route table (handlers, not `use` middleware), in the document's path syntax.
    const served = new Set(
      app.routes
        .filter((r) => r.method !== "ALL")
        .map(
          (r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}").replace("/tile/{level}/*", "/tile/{level}/{index}")}`,
        ),
    );
    expect(new Set(documented.map((d) => d.key))).toEqual(served);
    const ids = documented.map((d) => d.op.operationId);
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const d of documented) expect(Array.isArray(d.op.security), d.key).toBe(true);
    expect(Object.keys(res.body.components.securitySchemes).sort()).toEqual(["operator", "tenant", "terminal"]);
    expect(Object.keys(res.body.webhooks)).toEqual(["receipt.persisted"]);
  });

  it("describes the receipt body the route validates with, with an example", async () => {
    const res = await call<Doc>("GET", "/openapi.json");
    const body = res.body.paths["/v1/receipts"]?.post?.requestBody?.content["application/json"];
    expect(body?.schema.$ref).toBe("#/components/schemas/Sale");
    expect(res.body.components.schemas.Sale?.required).toEqual(
      expect.arrayContaining(["issuedAt", "currency", "items", "total", "payments"]),
    );
    expect(body?.example).toMatchObject({ currency: "EUR", total: 680 });
    // The example is a sale the gateway takes (the route's own schema and arithmetic accept it).
    const { parseReceipt } = await import("../../core/receipt.ts");
    expect(() => parseReceipt(body?.example, Date.parse("2026-11-30T12:00:00Z"))).not.toThrow();
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
    expect(ok.body).toEqual({
      ok: true,
      checks: {
        postgres: "ok",
        codeKey: "ok",
        logKey: "ok",
        terminalCertKey: "ok",
        witnesses: "ok",
        config: "ok",
      },
    });

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

  it("names a setting that does not validate, and runs on its default", async () => {
    const typo = { ...env, FLUSH_MS: "fast", SHARD_COUNT: "0" };
    const health = await app.request("https://tillproof.test/healthz", {}, typo, createExecutionContext());
    expect(health.status).toBe(503);
    const { checks } = (await health.json()) as { checks: Record<string, string> };
    expect(checks.config).toMatch(/^SHARD_COUNT="0": .*; FLUSH_MS="fast": .*using the default$/);
    expect(checks.postgres).toBe("ok");
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

describe("rate limit on the public reads", () => {
  const from = (ip: string) => ({ headers: { "cf-connecting-ip": ip, origin: "https://shop.example" } });

  it("answers 429 with Retry-After past PUBLIC_RPS per client address, for each public read", async () => {
    const limited = { ...env, PUBLIC_RPS: "5" }; // burst 10
    for (const path of ["/v1/log/key", "/v1/verify/0000-0000-0000-0000", "/v1/branding/nobody"]) {
      const ip = `203.0.113.${path.length}`;
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) {
        statuses.push(
          (await app.request(`https://tillproof.test${path}`, from(ip), limited, createExecutionContext())).status,
        );
      }
      expect(
        statuses.slice(0, 10).every((s) => s !== 429),
        `${path}: ${statuses}`,
      ).toBe(true);
      const res = await app.request(`https://tillproof.test${path}`, from(ip), limited, createExecutionContext());
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
      // The operator's token lifts the limit on the log only (its audit reads all of it).
      const operator = await app.request(
        `https://tillproof.test${path}`,
        { headers: { ...from(ip).headers, authorization: `Bearer ${OPERATOR_TOKEN}` } },
        limited,
        createExecutionContext(),
      );
      expect(operator.status === 429).toBe(!path.startsWith("/v1/log/"));
      // Another address is not affected.
      const other = await app.request(
        `https://tillproof.test${path}`,
        from("198.51.100.1"),
        limited,
        createExecutionContext(),
      );
      expect(other.status).not.toBe(429);
    }
  });

  it("counts across isolates with Cloudflare's rate-limiting binding (200 per 10 s)", async () => {
    const generous = { ...env, PUBLIC_RPS: "100000" };
    let first429 = 0;
    // The binding counts in fixed 10 s windows: if one ends mid-run, the count starts again (so ≤ 400).
    for (let i = 1; i <= 405 && !first429; i++) {
      const res = await app.request(
        "https://tillproof.test/v1/log/key",
        from("192.0.2.9"),
        generous,
        createExecutionContext(),
      );
      if (res.status === 429) first429 = i;
    }
    expect(first429).toBeGreaterThanOrEqual(201);
    expect(first429).toBeLessThanOrEqual(401);
  });
});

describe("request ids", () => {
  it("echoes a valid x-request-id, makes one otherwise, repeats it in error bodies and in the logs", async () => {
    const mine = await app.request(
      "https://tillproof.test/v1/verify/not-a-code",
      { headers: { "x-request-id": "till-42_retry-1" } },
      env,
      createExecutionContext(),
    );
    expect(mine.headers.get("x-request-id")).toBe("till-42_retry-1");
    expect(((await mine.json()) as { error: { requestId: string } }).error.requestId).toBe("till-42_retry-1");

    for (const bad of ["", "has space", "x".repeat(65), "semi;colon"]) {
      const res = await app.request(
        "https://tillproof.test/healthz",
        { headers: { "x-request-id": bad } },
        env,
        createExecutionContext(),
      );
      expect(res.headers.get("x-request-id"), bad).toMatch(/^[0-9a-f-]{36}$/);
    }

    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const down = await app.request(
        "https://tillproof.test/healthz",
        { headers: { "x-request-id": "trace-me" } },
        { ...env, DATABASE_URL: `postgres://postgres@127.0.0.1:1/${crypto.randomUUID()}` },
        createExecutionContext(),
      );
      expect(down.status).toBe(503);
      const lines = spy.mock.calls.map((c) => JSON.parse(String(c[0])) as { requestId?: string; level?: string });
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.every((l) => l.requestId === "trace-me" && l.level === "error")).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });
});
