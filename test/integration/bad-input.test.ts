/** Every client mistake gets a clear 4xx with a stable code, never a 5xx. */
import { createExecutionContext, env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import { app } from "../../workers/index.ts";
import { shard } from "../../workers/shards.ts";
import { call, type Fixture, fixture, OPERATOR_TOKEN, sale, useShardBand } from "./helpers.ts";

useShardBand(1);

let f: Fixture;
beforeAll(async () => {
  f = await fixture();
});

const card = "4111 1111 1111 1111";
const item = { name: "x", quantity: 1, unitPrice: 100, total: 100 };

type Case = {
  name: string;
  status: number;
  code: string;
  path?: string;
  method?: string;
  token?: (f: Fixture) => string | undefined;
  headers?: Record<string, string>;
  body?: unknown;
  raw?: string;
  /** Send no Idempotency-Key at all. */
  noKey?: boolean;
};

const receipt = (patch: Record<string, unknown>): Partial<Case> => ({ body: sale(patch) });

const cases: Case[] = [
  { name: "no credentials", status: 401, code: "unauthorized", token: () => undefined, body: sale() },
  { name: "a malformed token", status: 401, code: "unauthorized", token: () => "not-a-token", body: sale() },
  { name: "a tenant key as terminal token", status: 401, code: "unauthorized", token: (f) => f.apiKey, body: sale() },
  {
    name: "an unknown terminal token",
    status: 401,
    code: "unauthorized",
    token: () => `tpt_0_${"A".repeat(43)}`,
    body: sale(),
  },
  { name: "no Idempotency-Key", status: 400, code: "invalid_idempotency_key", noKey: true, body: sale() },
  {
    name: "a 65-character Idempotency-Key",
    status: 400,
    code: "invalid_idempotency_key",
    headers: { "idempotency-key": "k".repeat(65) },
    body: sale(),
  },
  {
    name: "an Idempotency-Key with a space",
    status: 400,
    code: "invalid_idempotency_key",
    headers: { "idempotency-key": "a b" },
    body: sale(),
  },
  {
    name: "a text/plain body",
    status: 415,
    code: "unsupported_media_type",
    raw: JSON.stringify(sale()),
    headers: { "content-type": "text/plain" },
  },
  {
    name: "a JSON media type with a space before its parameter",
    status: 415,
    code: "unsupported_media_type",
    raw: JSON.stringify(sale()),
    headers: { "content-type": "application/json ; charset=utf-8" },
  },
  {
    name: "a vendor JSON type the route does not take",
    status: 415,
    code: "unsupported_media_type",
    raw: JSON.stringify(sale()),
    headers: { "content-type": "application/vnd.acme.v1+json" },
  },
  {
    name: "malformed JSON",
    status: 400,
    code: "invalid_json",
    raw: '{"issuedAt": ',
    headers: { "content-type": "application/json" },
  },
  { name: "a JSON array", status: 400, code: "validation_failed", body: [sale()] },
  {
    name: "an item total that is not quantity × unitPrice",
    status: 400,
    code: "validation_failed",
    ...receipt({ items: [{ ...item, total: 99 }], total: 99, payments: [{ method: "cash", amount: 99 }] }),
  },
  {
    name: "a total that is not the sum of items",
    status: 400,
    code: "validation_failed",
    ...receipt({ total: 681, payments: [{ method: "cash", amount: 681 }] }),
  },
  {
    name: "payments that do not add up",
    status: 400,
    code: "validation_failed",
    ...receipt({ payments: [{ method: "cash", amount: 600 }] }),
  },
  {
    name: "a non-integer amount",
    status: 400,
    code: "validation_failed",
    ...receipt({
      items: [{ ...item, unitPrice: 2.5, total: 2.5 }],
      total: 2.5,
      payments: [{ method: "cash", amount: 2.5 }],
    }),
  },
  {
    name: "a huge amount",
    status: 400,
    code: "validation_failed",
    ...receipt({
      items: [{ ...item, unitPrice: 1e16, total: 1e16 }],
      total: 1e16,
      payments: [{ method: "cash", amount: 1e16 }],
    }),
  },
  {
    name: "a negative quantity",
    status: 400,
    code: "validation_failed",
    ...receipt({ items: [{ ...item, quantity: -1, total: -100 }], total: -100 }),
  },
  { name: "no items", status: 400, code: "validation_failed", ...receipt({ items: [] }) },
  {
    name: "501 items",
    status: 400,
    code: "validation_failed",
    ...receipt({ items: Array(501).fill(item), total: 50100, payments: [{ method: "cash", amount: 50100 }] }),
  },
  {
    name: "a body over 256 KiB",
    status: 413,
    code: "payload_too_large",
    ...receipt({ cashier: "x".repeat(300 * 1024) }),
  },
  {
    name: "a card number in an item name",
    status: 400,
    code: "card_data_forbidden",
    ...receipt({
      items: [{ ...item, name: `Paid with ${card}` }],
      total: 100,
      payments: [{ method: "card", amount: 100 }],
    }),
  },
  {
    name: "a card number in the cashier",
    status: 400,
    code: "card_data_forbidden",
    ...receipt({ cashier: "5500-0000-0000-0004" }),
  },
  { name: "an unknown currency", status: 400, code: "validation_failed", ...receipt({ currency: "XXY" }) },
  {
    name: "an unknown payment method",
    status: 400,
    code: "validation_failed",
    ...receipt({ payments: [{ method: "iou", amount: 680 }] }),
  },
  {
    name: "a time without offset",
    status: 400,
    code: "validation_failed",
    ...receipt({ issuedAt: "2026-11-21T10:15:00" }),
  },
  { name: "an unknown field", status: 400, code: "validation_failed", ...receipt({ discount: 5 }) },
  { name: "a NUL byte in the cashier", status: 400, code: "validation_failed", ...receipt({ cashier: "Ann\u0000" }) },
  {
    name: "an unpaired surrogate in an item name",
    status: 400,
    code: "validation_failed",
    ...receipt({ items: [{ ...item, name: "Tea \ud800" }], total: 100, payments: [{ method: "cash", amount: 100 }] }),
  },
  {
    name: "a date in year 50",
    status: 400,
    code: "validation_failed",
    ...receipt({ issuedAt: "0050-06-01T00:00:00Z" }),
  },
  {
    name: "a batch of 101",
    status: 400,
    code: "validation_failed",
    path: "/v1/receipts/batch",
    body: { receipts: Array(101).fill({ ...sale(), idempotencyKey: "k" }) },
  },
  {
    name: "a batch over 2 MiB",
    status: 413,
    code: "payload_too_large",
    path: "/v1/receipts/batch",
    body: { receipts: [{ ...sale(), idempotencyKey: "k", cashier: "x".repeat(2100 * 1024) }] },
  },
  { name: "a malformed code", status: 400, code: "invalid_code", method: "GET", path: "/v1/verify/hello" },
  {
    name: "a random well-formed code",
    status: 400,
    code: "invalid_code",
    method: "GET",
    path: "/v1/verify/ABCD-EFGH-JKMN-PQRS",
  },
  {
    name: "a bad tenant id",
    status: 400,
    code: "validation_failed",
    path: "/v1/tenants",
    token: () => OPERATOR_TOKEN,
    body: { id: "Bad_Id", name: "x" },
  },
  {
    name: "a wrong operator token",
    status: 401,
    code: "unauthorized",
    path: "/v1/tenants",
    token: () => "nope",
    body: { id: "whatever", name: "x" },
  },
  {
    name: "a bad time zone",
    status: 400,
    code: "validation_failed",
    method: "PUT",
    path: "/stores/s-1",
    body: { name: "x", timezone: "Mars/Olympus" },
  },
  {
    // JavaScript takes it; Postgres would read it as UTC−05:30 and put every sale on the wrong day.
    name: "a time zone given as an offset",
    status: 400,
    code: "validation_failed",
    method: "PUT",
    path: "/stores/s-1",
    body: { name: "x", timezone: "+05:30" },
  },
  {
    name: "a bad store id in the path",
    status: 400,
    code: "invalid_id",
    method: "PUT",
    path: "/stores/NO_WAY",
    body: { name: "x", timezone: "UTC" },
  },
  { name: "an unknown route", status: 404, code: "not_found", method: "GET", path: "/v1/nothing" },
  {
    name: "a total of 1e999",
    status: 400,
    code: "validation_failed",
    raw: JSON.stringify(sale()).replace('"total":680', '"total":1e999'),
    headers: { "content-type": "application/json" },
  },
  {
    name: "a lone surrogate in a field",
    status: 400,
    code: "validation_failed",
    raw: JSON.stringify(sale()).replace('"card"', '"\\ud800"'),
    headers: { "content-type": "application/json" },
  },
  {
    name: "a lone surrogate in an unknown key",
    status: 400,
    code: "validation_failed",
    raw: `{"\\ud800":1,${JSON.stringify(sale()).slice(1)}`,
    headers: { "content-type": "application/json" },
  },
];

describe("bad input", () => {
  it.each(cases)("$name → $status $code", async (c) => {
    let path = c.path ?? "/v1/receipts";
    let token = c.token ? c.token(f) : f.token;
    if (path.startsWith("/stores/")) {
      path = `/v1/tenants/${f.tenantId}${path}`;
      token = f.apiKey;
    }
    const headers = { ...(c.noKey ? {} : { "idempotency-key": crypto.randomUUID() }), ...c.headers };
    const res = await call(c.method ?? "POST", path, { token, headers, body: c.body, raw: c.raw });
    expect(res.status, res.text).toBe(c.status);
    expect(res.body).toMatchObject({ error: { code: c.code, message: expect.any(String) } });
  });

  it("judges each batch entry alone, even one JSON canonicalization refuses (1e999, lone surrogates)", async () => {
    const good = { idempotencyKey: crypto.randomUUID(), ...sale() };
    const entries = [
      JSON.stringify(good),
      JSON.stringify({ idempotencyKey: "inf-1", ...sale() }).replace('"total":680', '"total":1e999'),
      JSON.stringify({ idempotencyKey: "sur-1", ...sale() }).replace('"card"', '"\\ud800"'),
      `{"\\udfff":0,${JSON.stringify({ idempotencyKey: "sur-2", ...sale() }).slice(1)}`,
    ];
    for (const token of [f.token, `tpt_0_${"A".repeat(43)}`]) {
      const res = await call<{ results: { status: number; error?: { code: string } }[] }>(
        "POST",
        "/v1/receipts/batch",
        { token, raw: `{"receipts":[${entries.join(",")}]}`, headers: { "content-type": "application/json" } },
      );
      if (token !== f.token) {
        expect(res.status).toBe(401); // a fake token gets 401, not a 500
        continue;
      }
      expect(res.status, res.text).toBe(200);
      expect(res.body.results.map((r) => r.status)).toEqual([201, 400, 400, 400]);
      for (const r of res.body.results.slice(1)) expect(r.error?.code).toBe("validation_failed");
    }
  });

  it("says which header is wrong, and how", async () => {
    const missing = await call("POST", "/v1/receipts", { token: f.token, body: sale() });
    expect(missing.body).toMatchObject({
      error: { code: "invalid_idempotency_key", message: "The Idempotency-Key header is required." },
    });
    const spaced = await call("POST", "/v1/receipts", {
      token: f.token,
      body: sale(),
      headers: { "idempotency-key": "a b" },
    });
    expect(spaced.body).toMatchObject({
      error: { message: "The Idempotency-Key header must be 1–64 characters [A-Za-z0-9_-]." },
    });
  });

  it("takes JSON with a charset parameter", async () => {
    const res = await call("POST", "/v1/receipts", {
      token: f.token,
      raw: JSON.stringify(sale()),
      headers: { "content-type": "application/json; charset=utf-8", "idempotency-key": crypto.randomUUID() },
    });
    expect(res.status).toBe(201);
  });

  it("names the offending fields", async () => {
    const res = await call("POST", "/v1/receipts", {
      token: f.token,
      headers: { "idempotency-key": "details-1" },
      body: sale({ items: [{ ...item, total: 99 }], total: 99, payments: [{ method: "cash", amount: 99 }] }),
    });
    expect(res.body).toMatchObject({
      error: { details: [{ path: "items.0.total", message: expect.stringContaining("100") }] },
    });
  });

  it("refuses a forged terminal token before parsing and without waking its shard", async () => {
    const forged = `tpt_1000_${"A".repeat(43)}`;
    const res = await call("POST", "/v1/receipts", {
      token: forged,
      headers: { "idempotency-key": "forged-1" },
      raw: "{ not even json",
    });
    expect(res.status).toBe(401); // not 400: the credential is judged before the body
    // Shard 1000 was never asked: it never bound itself to its number.
    const claimed = await runInDurableObject(shard(env, 1000), (_: StoreShard, state) =>
      state.storage.sql.exec("SELECT v FROM meta WHERE k = 'shard'").toArray(),
    );
    expect(claimed).toEqual([]);
  });

  it("refuses a forged tenant key without a Postgres connection (401 even with Postgres unreachable)", async () => {
    const down = { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/unreachable" };
    const forged = await app.request(
      `https://tillproof.test/v1/tenants/${f.tenantId}/branding`,
      { headers: { authorization: `Bearer tpk_${f.tenantId}_${"A".repeat(43)}` } },
      down,
      createExecutionContext(),
    );
    expect(forged.status).toBe(401);
  });
});
