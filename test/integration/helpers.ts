/** Test helpers: talk to the Worker over HTTP as a client would, and read Postgres directly. */
import { env, SELF } from "cloudflare:test";
import type { IssuedReceipt } from "../../api/responses.ts";
import { canonicalJson } from "../../core/canonical.ts";
import { encodeCode } from "../../core/code.ts";
import { shardForStore } from "../../core/ids.ts";
import type { OutboxMessage } from "../../core/outbox.ts";
import { buildRecord, GENESIS_HASH, parseReceipt } from "../../core/receipt.ts";
import { openPg } from "../../db/client.ts";
import { sha256Hex } from "../../kit/crypto.ts";
import { insiderSql } from "../insider.ts";

export const OPERATOR_TOKEN = "test-operator-token";
export const TEST_LOG_VKEY = "tillproof.test/log+8010e9c6+AaVIVQC/EMa0zUPWDVIdUwsIQuERO7/rAA896xP8ueb0";

export type Reply<T = Record<string, unknown>> = { status: number; headers: Headers; body: T; text: string };

export async function call<T = Record<string, unknown>>(
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await SELF.fetch(`https://tillproof.test${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export const uid = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/**
 * Each test file gets fresh Durable Object storage but all share one Postgres
 * database, so two files' shards would reissue the same codes. Each file claims
 * its own band of shards (shard % 32) and places its stores only there.
 */
const SHARD_COUNT = 1024;
let band: number | null = null;
export function useShardBand(n: number): void {
  band = n;
}

export function storeIdInBand(tenantId: string): string {
  if (band === null) throw new Error("call useShardBand(n) at the top of the test file");
  for (;;) {
    const storeId = uid("s");
    if (shardForStore(tenantId, storeId, SHARD_COUNT) % 32 === band) return storeId;
  }
}

export type Fixture = { tenantId: string; apiKey: string; storeId: string; terminalId: string; token: string };

/** A tenant with one store and one terminal, made through the API. */
export async function fixture(): Promise<Fixture> {
  const tenantId = uid("t");
  const t = await call<{ apiKey: string }>("POST", "/v1/tenants", {
    token: OPERATOR_TOKEN,
    body: { id: tenantId, name: `Tenant ${tenantId}` },
  });
  if (t.status !== 201) throw new Error(`tenant: ${t.status} ${t.text}`);
  const storeId = storeIdInBand(tenantId);
  const s = await call("PUT", `/v1/tenants/${tenantId}/stores/${storeId}`, {
    token: t.body.apiKey,
    body: { name: "Main Street", timezone: "Europe/Berlin" },
  });
  if (s.status !== 201) throw new Error(`store: ${s.status} ${s.text}`);
  const terminalId = "till-1";
  const r = await call<{ token: string }>("POST", `/v1/tenants/${tenantId}/stores/${storeId}/terminals`, {
    token: t.body.apiKey,
    body: { id: terminalId },
  });
  if (r.status !== 201) throw new Error(`terminal: ${r.status} ${r.text}`);
  return { tenantId, apiKey: t.body.apiKey, storeId, terminalId, token: r.body.token };
}

export function sale(overrides: Record<string, unknown> = {}) {
  return {
    issuedAt: "2026-11-21T10:15:00+01:00",
    currency: "EUR",
    items: [
      { name: "Espresso", sku: "A1", quantity: 2, unitPrice: 250, taxRate: 10, total: 500 },
      { name: "Croissant", quantity: 1, unitPrice: 180, total: 180 },
    ],
    total: 680,
    payments: [{ method: "card", amount: 680 }],
    ...overrides,
  };
}

export type Issued = IssuedReceipt;

export function issue(token: string, body: unknown, key = crypto.randomUUID()) {
  return call<Issued>("POST", "/v1/receipts", { token, body, headers: { "idempotency-key": key } });
}

/** Runs SQL against the test database as its owner (as psql would). */
export async function sqlQuery<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const pg = openPg({ DATABASE_URL: env.TEST_ADMIN_DATABASE_URL, NEON_WS_PROXY: env.NEON_WS_PROXY });
  try {
    const res = await pg.pool.query(text, params);
    return res.rows as T[];
  } finally {
    await pg.end();
  }
}

/** Polls until `probe` returns a value (the queue consumer runs on its own schedule). */
export async function eventually<T>(probe: () => Promise<T | null | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const compact = (code: string) => code.replaceAll("-", "");

/** Issues a receipt and waits until verify reports it persisted. */
export async function issuePersisted(token: string, body: unknown = sale()): Promise<Issued> {
  const res = await issue(token, body);
  if (res.status !== 201) throw new Error(`issue: ${res.status} ${res.text}`);
  await eventually(async () => {
    const r = await call<{ persisted: boolean }>("GET", `/v1/verify/${res.body.code}`);
    return r.body.persisted ? true : null;
  });
  return res.body;
}

/** Edits a stored receipt as a superuser would, with the append-only trigger turned off. */
export async function tamper(code: string, set: string): Promise<void> {
  await sqlQuery(insiderSql(`UPDATE receipts SET ${set} WHERE code = '${compact(code)}'`));
}

/** A message as a shard would send it, for receipts no shard holds (so only the consumer acts). */
export function syntheticMessage(tenantId: string, count: number, firstCounter: number, shard = 3): OutboxMessage {
  let prevHash = GENESIS_HASH;
  const receipts = Array.from({ length: count }, (_, i) => {
    const counter = firstCounter + i;
    const record = buildRecord({
      input: parseReceipt(sale(), Date.now()),
      code: encodeCode("test-code-key", { shard, counter }),
      tenantId,
      storeId: "synthetic",
      terminalId: "till-1",
      seq: i + 1,
      receivedAt: Date.now(),
      prevHash,
    });
    const json = canonicalJson(record);
    prevHash = sha256Hex(json);
    return { counter, hash: prevHash, record: json };
  });
  return { v: 1, shard, receipts };
}
