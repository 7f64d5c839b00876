import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { canonicalHash } from "../../core/canonical.ts";
import { encodeCode, groupCode } from "../../core/code.ts";
import { GENESIS_HASH } from "../../core/receipt.ts";
import { type RecordRow, recordColumns, recordFromRow } from "../../db/receipts.ts";
import { sha256Hex } from "../../kit/crypto.ts";

import {
  call,
  compact,
  eventually,
  fixture,
  type Issued,
  issue,
  OPERATOR_TOKEN,
  sale,
  sqlQuery,
  useShardBand,
} from "./helpers.ts";

useShardBand(0);

describe("receipt spine", () => {
  it("issues a code and carries the receipt all the way to a Postgres row", async () => {
    const f = await fixture();
    const res = await issue(f.token, sale());
    expect(res.status).toBe(201);
    // A fresh stack issues 20-character codes (contract v1.1), grouped by four.
    expect(res.body.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$/);
    expect(res.body).toMatchObject({ tenantId: f.tenantId, storeId: f.storeId, terminalId: "till-1", seq: 1 });
    expect(res.body.prevHash).toBe("0".repeat(64));
    expect(res.body.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(res.body.verifyUrl).toBe(`https://tillproof.test/r/${res.body.code}`);

    const [row] = await eventually(async () => {
      const rows = await sqlQuery<{ seq: string; total: string; hash: string }>(
        "SELECT seq, total, hash FROM receipts WHERE code = $1",
        [compact(res.body.code)],
      );
      return rows.length ? rows : null;
    });
    expect(row).toEqual({ seq: "1", total: "680", hash: res.body.hash });
  });
});

describe("idempotency", () => {
  it("replays the identical response for the same key and body", async () => {
    const f = await fixture();
    const first = await issue(f.token, sale(), "retry-1");
    const again = await issue(f.token, { ...sale(), payments: sale().payments, currency: "EUR" }, "retry-1");
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.text).toBe(first.text);
  });

  it("gives 8 concurrent submissions of one key a single code", async () => {
    const f = await fixture();
    const replies = await Promise.all(Array.from({ length: 8 }, () => issue(f.token, sale(), "same-key")));
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(replies.map((r) => r.body.code)).size).toBe(1);
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
  });

  it("refuses the same key with a different body", async () => {
    const f = await fixture();
    await issue(f.token, sale(), "k-409");
    const other = await issue(f.token, sale({ cashier: "Bob" }), "k-409");
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ error: { code: "idempotency_conflict" } });
  });

  it("scopes keys to the terminal", async () => {
    const f = await fixture();
    const second = await call<{ token: string }>("POST", `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals`, {
      token: f.apiKey,
      body: { id: "till-2" },
    });
    const a = await issue(f.token, sale(), "shared-key");
    const b = await issue(second.body.token, sale(), "shared-key");
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.code).not.toBe(b.body.code);
    expect(b.body.seq).toBe(2);
  });
});

describe("the hash chain", () => {
  it("numbers 50 concurrent receipts of one store 1..50 with every link intact", async () => {
    const f = await fixture();
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => issue(f.token, sale({ cashier: `c${i}` }))));
    expect(replies.every((r) => r.status === 201)).toBe(true);
    const bySeq = replies.map((r) => r.body).sort((a, b) => a.seq - b.seq);
    expect(bySeq.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(bySeq[0]?.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < bySeq.length; i++) expect(bySeq[i]?.prevHash).toBe(bySeq[i - 1]?.hash);
    expect(new Set(bySeq.map((r) => r.code)).size).toBe(50);

    // Postgres ends up with the same chain, and every row re-hashes to its hash.
    const rows = await eventually(async () => {
      const got = await sqlQuery<Record<string, unknown>>(
        `SELECT ${recordColumns()} FROM receipts WHERE tenant_id = $1 ORDER BY seq`,
        [f.tenantId],
      );
      return got.length === 50 ? got : null;
    });
    for (const [i, row] of rows.entries()) {
      const record = recordFromRow(row as RecordRow);
      expect(canonicalHash(record)).toBe(row.hash);
      expect(row.hash).toBe(bySeq[i]?.hash);
    }
  });
});

describe("verify", () => {
  it("answers valid at once, then persisted, for the code in any form", async () => {
    const f = await fixture();
    const { body: issued } = await issue(f.token, sale());
    const early = await call<Record<string, unknown>>("GET", `/v1/verify/${issued.code}`);
    expect(early.status).toBe(200);
    // The consumer waits up to a second for a batch: Postgres cannot have it yet.
    expect(early.body.persisted).toBe(false);
    expect(early.headers.get("cache-control")).toBe("no-store");
    expect(early.body).toMatchObject({
      code: issued.code,
      status: "valid",
      tenant: { id: f.tenantId, displayName: `Tenant ${f.tenantId}` },
      store: { id: f.storeId, name: "Main Street" },
      terminalId: "till-1",
      seq: 1,
      currency: "EUR",
      total: 680,
      hash: issued.hash,
      prevHash: issued.prevHash,
    });
    const later = await eventually(async () => {
      const r = await call<{ persisted: boolean; status: string }>(
        "GET",
        `/v1/verify/${compact(issued.code).toLowerCase()}`,
      );
      return r.body.persisted ? r : null;
    });
    expect(later.body.status).toBe("valid");
    expect(later.headers.get("cache-control")).toContain("max-age");
  });

  it("answers 404 for a well-formed code that was never issued", async () => {
    const code = groupCode(encodeCode("test-code-key", { shard: 1, counter: 987_654 }));
    const res = await call("GET", `/v1/verify/${code}`);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: { code: "not_found" } });
  });
});

describe("terminals and tenants", () => {
  it("refuses a revoked terminal on the very next request", async () => {
    const f = await fixture();
    expect((await issue(f.token, sale())).status).toBe(201);
    const del = await call("DELETE", `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals/${f.terminalId}`, {
      token: f.apiKey,
    });
    expect(del.status).toBe(204);
    const after = await issue(f.token, sale());
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ error: { code: "unauthorized" } });
    const [row] = await sqlQuery<{ revoked: boolean }>(
      "SELECT revoked_at IS NOT NULL AS revoked FROM terminals WHERE tenant_id = $1",
      [f.tenantId],
    );
    expect(row?.revoked).toBe(true);
  });

  it("answers 401, not 400, to a revoked or disabled terminal whatever its body", async () => {
    const revoked = await fixture();
    await call("DELETE", `/v1/tenants/${revoked.tenantId}/stores/${revoked.storeId}/terminals/${revoked.terminalId}`, {
      token: revoked.apiKey,
    });
    const disabled = await fixture();
    await call("POST", `/v1/ops/tenants/${disabled.tenantId}/disable`, { token: OPERATOR_TOKEN });
    const live = await fixture();
    const badBodies: [string, RequestInit][] = [
      ["malformed JSON", { body: "{not json", headers: { "content-type": "application/json" } }],
      [
        "a schema error",
        { body: JSON.stringify({ ...sale(), total: -1 }), headers: { "content-type": "application/json" } },
      ],
      ["not JSON", { body: "total=5", headers: { "content-type": "application/x-www-form-urlencoded" } }],
      [
        "too large",
        { body: JSON.stringify({ pad: "x".repeat(300 * 1024) }), headers: { "content-type": "application/json" } },
      ],
    ];
    for (const [what, init] of badBodies) {
      for (const [who, f, status] of [
        ["revoked", revoked, 401],
        ["disabled", disabled, 401],
        ["live", live, what === "not JSON" ? 415 : what === "too large" ? 413 : 400],
      ] as const) {
        const res = await SELF.fetch("https://tillproof.test/v1/receipts", {
          method: "POST",
          ...init,
          headers: {
            ...(init.headers as Record<string, string>),
            authorization: `Bearer ${f.token}`,
            "idempotency-key": "k1",
          },
        });
        expect(res.status, `${who}, ${what}`).toBe(status);
        expect(((await res.json()) as { error: { code: string } }).error.code).toEqual(
          status === 401 ? "unauthorized" : expect.any(String),
        );
      }
    }
  });

  it("keeps tenants apart: another tenant's key gets 403 on every admin route", async () => {
    const a = await fixture();
    const b = await fixture();
    const base = `/v1/tenants/${b.tenantId}/stores/${b.storeId}`;
    const attempts = [
      call("PUT", base, { token: a.apiKey, body: { name: "Hijacked", timezone: "UTC" } }),
      call("POST", `${base}/terminals`, { token: a.apiKey, body: { id: "evil" } }),
      call("DELETE", `${base}/terminals/${b.terminalId}`, { token: a.apiKey }),
      call("POST", `/v1/tenants/${b.tenantId}/keys`, { token: a.apiKey }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: { code: "forbidden" } });
    }
    // b is untouched: its terminal still issues.
    expect((await issue(b.token, sale())).status).toBe(201);
  });

  it("answers 409 for an existing tenant or terminal id, and shows secrets only as hashes", async () => {
    const f = await fixture();
    const dupTenant = await call("POST", "/v1/tenants", { token: OPERATOR_TOKEN, body: { id: f.tenantId, name: "x" } });
    expect(dupTenant.status).toBe(409);
    const dupTerminal = await call("POST", `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals`, {
      token: f.apiKey,
      body: { id: f.terminalId },
    });
    expect(dupTerminal.status).toBe(409);
    const [t] = await sqlQuery<{ api_key_hash: string }>("SELECT api_key_hash FROM tenants WHERE id = $1", [
      f.tenantId,
    ]);
    const [term] = await sqlQuery<{ token_hash: string }>("SELECT token_hash FROM terminals WHERE tenant_id = $1", [
      f.tenantId,
    ]);
    expect(t?.api_key_hash).toBe(sha256Hex(f.apiKey));
    expect(term?.token_hash).toBe(sha256Hex(f.token));
  });

  it("can register a terminal id again when its Postgres row was rolled back; the old token stops", async () => {
    const f = await fixture();
    // As after a registration whose reply was lost: the shard has the id, Postgres does not.
    await sqlQuery("DELETE FROM terminals WHERE tenant_id = $1", [f.tenantId]);
    const again = await call<{ token: string }>("POST", `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals`, {
      token: f.apiKey,
      body: { id: f.terminalId },
    });
    expect(again.status).toBe(201);
    expect((await issue(f.token, sale())).status).toBe(401);
    expect((await issue(again.body.token, sale())).status).toBe(201);
  });

  it("updates a store with 200 and keeps its shard", async () => {
    const f = await fixture();
    const [before] = await sqlQuery<{ shard: number }>("SELECT shard FROM stores WHERE tenant_id = $1", [f.tenantId]);
    const res = await call("PUT", `/v1/tenants/${f.tenantId}/stores/${f.storeId}`, {
      token: f.apiKey,
      body: { name: "Renamed", address: "Somewhere 1", timezone: "Europe/Paris" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ store: { id: f.storeId, name: "Renamed", timezone: "Europe/Paris" } });
    const [after] = await sqlQuery<{ shard: number }>("SELECT shard FROM stores WHERE tenant_id = $1", [f.tenantId]);
    expect(after?.shard).toBe(before?.shard);
  });
});

describe("offline batches", () => {
  it("judges each entry alone and answers in input order", async () => {
    const f = await fixture();
    const res = await call<{ results: { status: number; receipt?: Issued; error?: { code: string } }[] }>(
      "POST",
      "/v1/receipts/batch",
      {
        token: f.token,
        body: {
          receipts: [
            { idempotencyKey: "b-1", ...sale() },
            { idempotencyKey: "b-2", ...sale({ total: 1 }) },
            { ...sale() },
            { idempotencyKey: "b-1", ...sale() },
            { idempotencyKey: "b-3", ...sale({ cashier: "4111111111111111" }) },
            { idempotencyKey: "b-4", ...sale() },
          ],
        },
      },
    );
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => r.status)).toEqual([201, 400, 400, 200, 400, 201]);
    expect(res.body.results.map((r) => r.error?.code ?? null)).toEqual([
      null,
      "validation_failed",
      "invalid_idempotency_key",
      null,
      "card_data_forbidden",
      null,
    ]);
    expect(res.body.results[3]?.receipt).toEqual(res.body.results[0]?.receipt);
    expect(res.body.results[5]?.receipt?.seq).toBe(2);
  });
});

describe("per-store rate limit", () => {
  it("answers 429 with Retry-After once a store exceeds its burst, without issuing", async () => {
    const f = await fixture();
    const batch = (n: number) =>
      call<{ results: { status: number; error?: { code: string } }[] }>("POST", "/v1/receipts/batch", {
        token: f.token,
        body: { receipts: Array.from({ length: 100 }, (_, i) => ({ idempotencyKey: `rl-${n}-${i}`, ...sale() })) },
      });
    const results = (await Promise.all([0, 1, 2, 3, 4, 5].map(batch))).flatMap((r) => r.body.results);
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]?.error?.code).toBe("rate_limited");
    expect(results.filter((r) => r.status === 201).length + limited.length).toBe(600);

    // Single receipts beyond the refill get 429 with a Retry-After header.
    const singles = await Promise.all(Array.from({ length: 100 }, () => issue(f.token, sale())));
    const single = singles.find((r) => r.status === 429);
    expect(single?.body).toMatchObject({ error: { code: "rate_limited" } });
    expect(Number(single?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const issuedCount = results.filter((r) => r.status === 201).length + singles.filter((r) => r.status === 201).length;
    // Nothing refused took a seq: the store's chain is still gapless.
    const [row] = await eventually(async () => {
      const rows = await sqlQuery<{ n: string; max: string }>(
        "SELECT count(*) AS n, max(seq) AS max FROM receipts WHERE tenant_id = $1",
        [f.tenantId],
      );
      return Number(rows[0]?.n) === issuedCount ? rows : null;
    });
    expect(Number(row?.max)).toBe(issuedCount);
  });
});
