/**
 * Webhook management and the delivery rows, in workerd against Postgres:
 * validation (URLs a webhook may never call), tenant isolation, the audit,
 * deliveries created with the receipts (only for matching webhooks, once),
 * the sweep for lost queue messages. Sending is in test/e2e/webhooks.test.ts.
 */
import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { codeRoute } from "../../core/code.ts";
import type { WebhookMessage } from "../../core/webhooks.ts";
import { openPg } from "../../db/client.ts";
import { recordAttempts } from "../../db/webhooks.ts";
import worker from "../../workers/index.ts";
import { sweepOverdueDeliveries } from "../../workers/webhooks/deliver.ts";
import {
  call,
  compact,
  eventually,
  type Fixture,
  fixture,
  issuePersisted,
  OPERATOR_TOKEN,
  sqlQuery,
  storeIdInBand,
  useShardBand,
} from "./helpers.ts";

useShardBand(3);

let a: Fixture;
let b: Fixture;
let otherStore = "";
const hook = { url: "https://erp.example.com/hooks/tillproof", events: ["receipt.persisted"] };

const put = (f: Fixture, id: string, body: unknown, token = f.apiKey) =>
  call<Record<string, unknown>>("PUT", `/v1/tenants/${f.tenantId}/webhooks/${id}`, { token, body });

beforeAll(async () => {
  [a, b] = await Promise.all([fixture(), fixture()]);
  otherStore = storeIdInBand(a.tenantId);
  const s = await call("PUT", `/v1/tenants/${a.tenantId}/stores/${otherStore}`, {
    token: a.apiKey,
    body: { name: "Other", timezone: "Europe/Berlin" },
  });
  expect(s.status).toBe(201);
});

describe("managing webhooks", () => {
  it.each([
    ["http://erp.example.com/hook", "must be https"],
    ["https://127.0.0.1/hook", "loopback"],
    ["https://localhost:8443/hook", "loopback"],
    ["https://169.254.169.254/latest/meta-data/", "private"],
    ["https://10.0.0.7/hook", "private"],
    ["https://[fd12::1]/hook", "private"],
    ["https://erp.internal/hook", "private"],
    ["https://me:secret@erp.example.com/hook", "credentials"],
    ["http://127.0.0.1:9000/hook", "must be https"],
    ["https://erp.example.com/\u0000hook", "control characters"],
  ])("refuses %s with 400 (ALLOW_INSECURE_WEBHOOKS is off)", async (url, reason) => {
    const res = await put(a, "bad", { ...hook, url });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: "validation_failed", details: [{ path: "url" }] } });
    expect(JSON.stringify(res.body)).toContain(reason);
  });

  it("answers bad bodies and ids with the contract's errors", async () => {
    const path = `/v1/tenants/${a.tenantId}/webhooks/w1`;
    const cases: [Parameters<typeof call>[2], number, string][] = [
      [{ token: a.apiKey, raw: "{", headers: { "content-type": "application/json" } }, 400, "invalid_json"],
      [
        { token: a.apiKey, raw: JSON.stringify(hook), headers: { "content-type": "text/plain" } },
        415,
        "unsupported_media_type",
      ],
      [{ token: a.apiKey, body: { ...hook, events: ["receipt.voided"] } }, 400, "validation_failed"],
      [{ token: a.apiKey, body: { ...hook, events: [] } }, 400, "validation_failed"],
      [{ token: a.apiKey, body: { ...hook, storeIds: ["no-such-store"] } }, 400, "validation_failed"],
      [{ token: a.apiKey, body: { ...hook, secret: "my-own" } }, 400, "validation_failed"],
      [{ token: a.apiKey, body: [] }, 400, "validation_failed"],
    ];
    for (const [opts, status, code] of cases) {
      const res = await call("PUT", path, opts);
      expect(res.status, JSON.stringify(opts)).toBe(status);
      expect(res.body).toMatchObject({ error: { code } });
    }
    const badId = await call("PUT", `/v1/tenants/${a.tenantId}/webhooks/Not_A_Slug`, { token: a.apiKey, body: hook });
    expect(badId.status).toBe(400);
    expect(badId.body).toMatchObject({ error: { code: "invalid_id" } });
    const badEvent = await call("POST", `/v1/tenants/${a.tenantId}/webhooks/w1/deliveries/nope/retry`, {
      token: a.apiKey,
    });
    expect(badEvent.status).toBe(400);
    const badCursor = await call("GET", `/v1/tenants/${a.tenantId}/webhooks/w1/deliveries?before=x`, {
      token: a.apiKey,
    });
    expect(badCursor.status).toBe(400);
    expect((await call("GET", `/v1/tenants/${a.tenantId}/webhooks/w1`, { token: a.apiKey })).status).toBe(404);
  });

  it("shows the secret once, updates without it, and keeps each tenant to its own", async () => {
    const created = await put(a, "mirror", { ...hook, storeIds: [a.storeId] });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);
    expect(created.body.webhook).toMatchObject({ id: "mirror", url: hook.url, storeIds: [a.storeId] });
    const updated = await put(a, "mirror", { ...hook, url: "https://erp2.example.com/in", storeIds: [a.storeId] });
    expect(updated.status).toBe(200);
    expect(updated.body.secret).toBeUndefined();
    expect(updated.body.webhook).toMatchObject({ url: "https://erp2.example.com/in" });

    // Another tenant's key: 403 on every operation; no key: 401.
    const mine = `/v1/tenants/${a.tenantId}/webhooks`;
    for (const [method, path] of [
      ["GET", mine],
      ["GET", `${mine}/mirror`],
      ["PUT", `${mine}/mirror`],
      ["DELETE", `${mine}/mirror`],
      ["GET", `${mine}/mirror/deliveries`],
      ["POST", `${mine}/mirror/deliveries/evt_0000000000000000/retry`],
    ] as const) {
      expect((await call(method, path, { token: b.apiKey, body: method === "PUT" ? hook : undefined })).status).toBe(
        403,
      );
      expect((await call(method, path, { body: method === "PUT" ? hook : undefined })).status).toBe(401);
    }
    const theirs = await call<{ webhooks: unknown[] }>("GET", `/v1/tenants/${b.tenantId}/webhooks`, {
      token: b.apiKey,
    });
    expect(theirs.body.webhooks).toEqual([]);
    // A store of another tenant is not a store of this one.
    const foreign = await put(a, "foreign", { ...hook, storeIds: [b.storeId] });
    expect(foreign.status).toBe(400);

    const audit = await call<{ entries: { action: string; target: string }[] }>(
      "GET",
      `/v1/tenants/${a.tenantId}/audit`,
      { token: a.apiKey },
    );
    const actions = audit.body.entries.filter((e) => e.target === "mirror").map((e) => e.action);
    expect(actions).toEqual(["webhook.update", "webhook.create"]);
  });
});

describe("deliveries", () => {
  it("are written with the receipt, for each matching webhook, once", async () => {
    await put(a, "all-stores", hook);
    await put(b, "b-hook", hook);
    const r = await issuePersisted(a.token);
    const rows = await sqlQuery<{ tenant_id: string; webhook_id: string; event_id: string; status: string }>(
      "SELECT tenant_id, webhook_id, event_id, status FROM webhook_deliveries WHERE code = $1 ORDER BY webhook_id",
      [compact(r.code)],
    );
    // "mirror" is scoped to a's main store, "all-stores" takes every store, b's webhook nothing of a's.
    expect(rows.map((x) => [x.tenant_id, x.webhook_id])).toEqual([
      [a.tenantId, "all-stores"],
      [a.tenantId, "mirror"],
    ]);
    expect(rows[0]?.event_id).toBe(`evt_${compact(r.code)}`);
  });

  it("are not written for a store the webhook is not scoped to", async () => {
    const terminal = await call<{ token: string }>("POST", `/v1/tenants/${a.tenantId}/stores/${otherStore}/terminals`, {
      token: a.apiKey,
      body: { id: "till-9" },
    });
    const r = await issuePersisted(terminal.body.token);
    const rows = await sqlQuery<{ webhook_id: string }>("SELECT webhook_id FROM webhook_deliveries WHERE code = $1", [
      compact(r.code),
    ]);
    expect(rows.map((x) => x.webhook_id)).toEqual(["all-stores"]);
  });

  it("acks a message whose webhook was deleted, and lists nothing for it", async () => {
    const r = await issuePersisted(a.token);
    expect((await call("DELETE", `/v1/tenants/${a.tenantId}/webhooks/all-stores`, { token: a.apiKey })).status).toBe(
      204,
    );
    const batch = createMessageBatch<WebhookMessage>("tillproof-webhooks", [
      {
        id: "gone",
        timestamp: new Date(),
        attempts: 1,
        body: { tenantId: a.tenantId, webhookId: "all-stores", eventIds: [`evt_${compact(r.code)}`] },
      },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["gone"]);
    const rows = await sqlQuery("SELECT 1 FROM webhook_deliveries WHERE webhook_id = 'all-stores'");
    expect(rows).toEqual([]);
  });

  /**
   * A delivery on its own webhook `id` of a receipt whose day left Postgres (an object row names its
   * counter), in `status`; then one queue message for it, consumed with `archive` as the R2 bucket.
   */
  async function consumeArchivedDelivery(id: string, status: "pending" | "delivered", archive: R2Bucket) {
    const code = compact((await issuePersisted(a.token)).code);
    const route = codeRoute(code);
    if (!route) throw new Error(`not a code: ${code}`);
    await sqlQuery(
      "INSERT INTO webhooks (tenant_id, id, url, events, store_ids, secret_salt) VALUES ($1, $2, $3, ARRAY['receipt.persisted'], NULL, 'salt')",
      [a.tenantId, id, hook.url],
    );
    await sqlQuery(
      `INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, code, received_at, status, attempts)
       VALUES ($1, $2, $3, $4, '2001-01-05T12:00:00Z', $5, 1)`,
      [a.tenantId, id, `evt_${code}`, code, status],
    );
    await sqlQuery(
      `INSERT INTO archive_objects (day, shard, part, key, rows, first_counter, last_counter, last_code, sha256, bytes)
       VALUES ('2001-01-05', $1, 0, $2, 1, $3, $3, $4, repeat('0', 64), 100)`,
      [route.shard, `${id}-test.parquet`, route.counter, code],
    );
    try {
      const batch = createMessageBatch<WebhookMessage>("tillproof-webhooks", [
        {
          id,
          timestamp: new Date(),
          attempts: 2,
          body: { tenantId: a.tenantId, webhookId: id, eventIds: [`evt_${code}`] },
        },
      ]);
      const ctx = createExecutionContext();
      await worker.queue(batch, { ...env, ARCHIVE: archive }, ctx);
      const result = await getQueueResult(batch, ctx);
      const [row] = await sqlQuery<{ status: string }>(
        "SELECT status FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2",
        [a.tenantId, id],
      );
      return { acked: result.explicitAcks, retried: result.retryMessages.map((m) => m.msgId), status: row?.status };
    } finally {
      await sqlQuery("DELETE FROM archive_objects WHERE key = $1", [`${id}-test.parquet`]);
      await sqlQuery("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2", [a.tenantId, id]);
    }
  }

  it("acks a message whose delivery was settled without reading the archive, even when R2 cannot answer", async () => {
    const unreachable = {
      get: () => Promise.reject(new Error("R2 down")),
      head: () => Promise.reject(new Error("R2 down")),
    } as unknown as R2Bucket;
    expect(await consumeArchivedDelivery("settled", "delivered", unreachable)).toEqual({
      acked: ["settled"],
      retried: [],
      status: "delivered",
    });
  });

  it("retries a pending delivery whose archived receipt R2 stops sending halfway, instead of dropping it", async () => {
    const breaksOff = {
      get: () => Promise.resolve({ arrayBuffer: () => Promise.reject(new Error("connection reset")) }),
    } as unknown as R2Bucket;
    expect(await consumeArchivedDelivery("halfway", "pending", breaksOff)).toEqual({
      acked: [],
      retried: ["halfway"],
      status: "pending",
    });
  });

  it("the sweep sends again what is overdue, and only that", async () => {
    const r = await issuePersisted(a.token);
    const event = `evt_${compact(r.code)}`;
    // The queue message was lost an hour ago (this stack's consumer would otherwise have tried it).
    await sqlQuery(
      "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now() - interval '1 hour' WHERE event_id = $1 AND webhook_id = 'mirror'",
      [event],
    );
    const ctx = createExecutionContext();
    await sweepOverdueDeliveries(env, ctx);
    await waitOnExecutionContext(ctx);
    // Claimed (due again only after the grace) and sent: the consumer records an attempt.
    const after = await eventually(async () => {
      const [row] = await sqlQuery<{ attempts: number; last_error: string | null; due_later: boolean }>(
        "SELECT attempts, last_error, next_attempt_at > now() AS due_later FROM webhook_deliveries WHERE event_id = $1 AND webhook_id = 'mirror'",
        [event],
      );
      return row && row.attempts > 0 ? row : null;
    });
    expect(after.due_later).toBe(true);
    // erp2.example.com cannot be reached from the test runtime: a failed attempt, kept pending.
    expect(after.last_error).toMatch(/could not connect|no answer|receiver answered/);
    const page = await call<{ deliveries: { eventId: string; status: string }[] }>(
      "GET",
      `/v1/tenants/${a.tenantId}/webhooks/mirror/deliveries?status=pending`,
      { token: a.apiKey },
    );
    expect(page.body.deliveries.map((d) => d.eventId)).toContain(event);
  });

  it("the daily cron forgets deliveries delivered over 7 days ago, and only those", async () => {
    const [old, recent, stuck] = await Promise.all([
      issuePersisted(a.token),
      issuePersisted(a.token),
      issuePersisted(a.token),
    ]);
    const set = (code: string, sets: string) =>
      sqlQuery(`UPDATE webhook_deliveries SET ${sets} WHERE code = $1 AND webhook_id = 'mirror'`, [compact(code)]);
    await set(old.code, "status = 'delivered', delivered_at = now() - interval '8 days'");
    await set(recent.code, "status = 'delivered', delivered_at = now() - interval '6 days'");
    await set(stuck.code, "status = 'failed', created_at = now() - interval '40 days'");
    const ctx = createExecutionContext();
    await worker.scheduled({ cron: "17 3 * * *" } as ScheduledController, env, ctx);
    await waitOnExecutionContext(ctx);
    const left = await sqlQuery<{ code: string }>(
      "SELECT code FROM webhook_deliveries WHERE webhook_id = 'mirror' AND code = ANY($1::text[])",
      [[old, recent, stuck].map((r) => compact(r.code))],
    );
    expect(left.map((r) => r.code).sort()).toEqual([recent, stuck].map((r) => compact(r.code)).sort());
  });

  it("a receiver that cannot be reached holds back the message's other deliveries, without counting them", async () => {
    const hookId = "unreachable";
    expect((await put(a, hookId, { ...hook, url: "https://unreachable.example.com/in" })).status).toBe(201);
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push(compact((await issuePersisted(a.token)).code));
    const eventIds = codes.map((c) => `evt_${c}`);
    // Their own messages were tried already by this stack's consumer: start them afresh.
    await sqlQuery(
      "UPDATE webhook_deliveries SET attempts = 0, status = 'pending', next_attempt_at = now() WHERE webhook_id = $1",
      [hookId],
    );
    const batch = createMessageBatch<WebhookMessage>("tillproof-webhooks", [
      { id: "three", timestamp: new Date(), attempts: 1, body: { tenantId: a.tenantId, webhookId: hookId, eventIds } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["three"]);
    const rows = await sqlQuery<{ event_id: string; attempts: number; due_later: boolean; status: string }>(
      "SELECT event_id, attempts, next_attempt_at > now() AS due_later, status FROM webhook_deliveries WHERE webhook_id = $1 AND event_id = ANY($2::text[])",
      [hookId, eventIds],
    );
    const tried = rows.filter((r) => r.attempts === 1);
    expect(tried).toHaveLength(1);
    expect(rows.filter((r) => r.attempts === 0)).toHaveLength(2);
    // All three wait for the message's next try, so the sweep does not send them again meanwhile.
    expect(rows.every((r) => r.due_later && r.status === "pending")).toBe(true);
  });

  it("a delivered delivery stays delivered when a concurrent send fails", async () => {
    const r = await issuePersisted(a.token);
    const key = { tenantId: a.tenantId, webhookId: "mirror", eventId: `evt_${compact(r.code)}` };
    await sqlQuery("UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now() WHERE event_id = $1", [
      key.eventId,
    ]);
    const pg = openPg({ DATABASE_URL: env.TEST_ADMIN_DATABASE_URL, NEON_WS_PROXY: env.NEON_WS_PROXY });
    try {
      await recordAttempts(pg.db, [
        { ...key, status: "pending", httpStatus: 503, error: "receiver answered 503", retryInSeconds: 30 },
      ]);
    } finally {
      await pg.end();
    }
    const [row] = await sqlQuery<{ status: string; last_status: number }>(
      "SELECT status, last_status FROM webhook_deliveries WHERE webhook_id = 'mirror' AND event_id = $1",
      [key.eventId],
    );
    expect(row).toEqual({ status: "delivered", last_status: 503 });
  });

  it("allows 10 webhooks a tenant: an 11th gets 409, the 10 can still be updated", async () => {
    const f = await fixture();
    for (let i = 0; i < 10; i++) expect((await put(f, `h${i}`, hook)).status).toBe(201);
    const eleventh = await put(f, "h10", hook);
    expect(eleventh.status).toBe(409);
    expect(eleventh.body).toMatchObject({ error: { code: "too_many_webhooks" } });
    expect((await put(f, "h3", { ...hook, url: "https://other.example.com/x" })).status).toBe(200);
  });

  it("holds the cap of 10 when a tenant creates many at once", async () => {
    const f = await fixture();
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => put(f, `race${i}`, hook)));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(10);
    expect(answers.filter((r) => r.status === 409)).toHaveLength(14);
    const [n] = await sqlQuery<{ n: string }>("SELECT count(*) AS n FROM webhooks WHERE tenant_id = $1", [f.tenantId]);
    expect(Number(n?.n)).toBe(10);
  });

  it("answers a delivery cursor past any time Postgres can hold with 400, not 500", async () => {
    const res = await call<{ error: { code: string } }>(
      "GET",
      `/v1/tenants/${a.tenantId}/webhooks/mirror/deliveries?before=99999999999999999999.evt_AAAAAAAAAAAAAAAA`,
      { token: a.apiKey },
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
  });

  it("shows the operator pending and given-up deliveries (status, console alerts, /metrics)", async () => {
    const r = await issuePersisted(a.token);
    await sqlQuery("UPDATE webhook_deliveries SET status = 'failed' WHERE event_id = $1 AND webhook_id = 'mirror'", [
      `evt_${compact(r.code)}`,
    ]);
    type Status = { webhooks: { pending: number; failed: number; oldestPendingSeconds: number }; alerts: string[] };
    const status = await call<Status>("GET", "/v1/ops/status", { token: OPERATOR_TOKEN });
    expect(status.body.webhooks.failed).toBeGreaterThanOrEqual(1);
    expect(status.body.alerts.join("\n")).toContain("webhook deliveries were given up after 24 h");
    const metrics = await call("GET", "/metrics", { token: OPERATOR_TOKEN });
    const failed = /^tillproof_webhook_deliveries_failed (\d+)$/m.exec(metrics.text)?.[1];
    expect(Number(failed)).toBe(status.body.webhooks.failed);
    expect(metrics.text).toMatch(/^tillproof_webhook_oldest_pending_seconds \d/m);
  });

  it("never sends one tenant's receipt to another's webhook, whatever a delivery row says", async () => {
    const theirs = await issuePersisted(b.token);
    const [row] = await sqlQuery<{ received_at: string }>("SELECT received_at::text FROM receipts WHERE code = $1", [
      compact(theirs.code),
    ]);
    // An insider's row: b's receipt, on a's webhook.
    const eventId = `evt_${compact(theirs.code)}`;
    await sqlQuery(
      "INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, code, received_at) VALUES ($1, 'mirror', $2, $3, $4::timestamptz)",
      [a.tenantId, eventId, compact(theirs.code), row?.received_at],
    );
    const retried = await call("POST", `/v1/tenants/${a.tenantId}/webhooks/mirror/deliveries/${eventId}/retry`, {
      token: a.apiKey,
    });
    expect(retried.status).toBe(404);
  });

  it("pages the delivery log newest first, each delivery once, also across deliveries made together", async () => {
    const f = await fixture();
    expect((await put(f, "paged", hook)).status).toBe(201);
    // One batch: rows written by one statement share their created_at, so the page order falls back to the event id.
    const rows = [];
    for (let i = 0; i < 5; i++) rows.push(`evt_${"0".repeat(15)}${i}`);
    await sqlQuery(
      `INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, code, received_at, created_at)
       SELECT $1, 'paged', e, substr(e, 5), now(), now() - interval '1 hour' FROM unnest($2::text[]) e`,
      [f.tenantId, rows],
    );
    await sqlQuery(
      `INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, code, received_at)
       VALUES ($1, 'paged', 'evt_1000000000000000', '1000000000000000', now())`,
      [f.tenantId],
    );
    const seen: string[] = [];
    let before = "";
    for (let page = 0; page < 10; page++) {
      const res = await call<{ deliveries: { eventId: string }[]; next: string | null }>(
        "GET",
        `/v1/tenants/${f.tenantId}/webhooks/paged/deliveries?limit=2${before ? `&before=${before}` : ""}`,
        { token: f.apiKey },
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.deliveries.map((d) => d.eventId));
      if (!res.body.next) break;
      before = res.body.next;
    }
    expect(seen).toEqual(["evt_1000000000000000", ...[...rows].reverse()]);
  });
});
