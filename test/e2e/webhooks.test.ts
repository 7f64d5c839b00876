/**
 * Webhooks against a real stack, received by a server whose signature check
 * is the TypeScript example in docs/api.md, taken from the document itself:
 * a receiver written only from the docs verifies every delivery. Retries,
 * giving up after 24 h (the delivery's age moved back in Postgres), the
 * delivery log and the manual retry; a receipt changed in Postgres is held.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalHash } from "../../core/canonical.ts";
import { type RecordRow, recordColumns, recordFromRow } from "../../db/receipts.ts";
import { callStack, OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";
import { insiderSql } from "../insider.ts";

const ROOT = resolve(import.meta.dirname, "../..");

type Verify = (secret: string, header: string, rawBody: string, now?: number) => boolean;
type Received = { path: string; eventId: string; signature: string; raw: string; answered: number };

/** The docs' receiver example, as written there. */
async function docsVerifier(): Promise<Verify> {
  const doc = readFileSync(resolve(ROOT, "docs/api.md"), "utf8");
  const section = doc.slice(doc.indexOf("### Verifying a delivery"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error("docs/api.md has no TypeScript receiver example");
  const lines = code.trim().split("\n").length;
  expect(lines).toBeLessThanOrEqual(15);
  const dir = resolve(ROOT, ".data/test-docs");
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, `receiver-${process.pid}.ts`);
  writeFileSync(file, code);
  return ((await import(file)) as { verifyTillproof: Verify }).verifyTillproof;
}

/** A legacy system's endpoint: records every request; `/flaky` answers 500 to an event's first two attempts. */
function startReceiver(): Promise<{ server: Server; url: string; received: Received[]; down: (d: boolean) => void }> {
  const received: Received[] = [];
  const tries = new Map<string, number>();
  let isDown = false;
  const server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      raw += chunk;
    });
    req.on("end", () => {
      const eventId = String(req.headers["tillproof-event-id"] ?? "");
      const path = req.url ?? "";
      const n = (tries.get(`${path} ${eventId}`) ?? 0) + 1;
      tries.set(`${path} ${eventId}`, n);
      if (path === "/redirect") {
        received.push({ path, eventId, signature: "", raw, answered: 302 });
        res.writeHead(302, { location: "/hook" }).end();
        return;
      }
      const answered = isDown ? 503 : path === "/flaky" && n <= 2 ? 500 : 204;
      received.push({ path, eventId, signature: String(req.headers["tillproof-signature"] ?? ""), raw, answered });
      res.writeHead(answered).end();
    });
  });
  return new Promise((ok) =>
    server.listen(0, "127.0.0.1", () =>
      ok({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        received,
        down: (d) => {
          isDown = d;
        },
      }),
    ),
  );
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 45_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let stack: Stack;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let verifyTillproof: Verify;
let apiKey = "";
const tokens: Record<string, string> = {};
const tenantId = `hooks-${Date.now().toString(36)}`;
const secrets: Record<string, string> = {};

const admin = (method: string, path: string, body?: unknown) =>
  callStack(stack, method, `/v1/tenants/${tenantId}${path}`, apiKey, body);

async function sell(store: string, total: number): Promise<string> {
  const sale = {
    issuedAt: new Date().toISOString(),
    currency: "EUR",
    items: [{ name: "Bread", quantity: 1, unitPrice: total, total }],
    total,
    payments: [{ method: "cash", amount: total }],
  };
  const r = await callStack(stack, "POST", "/v1/receipts", tokens[store] ?? "", sale, {
    "idempotency-key": crypto.randomUUID(),
  });
  expect(r.status).toBe(201);
  return r.body.code ?? "";
}

const compactOf = (code: string) => code.replaceAll("-", "");
const eventOf = (code: string) => `evt_${compactOf(code)}`;
const delivered = (path: string) => receiver.received.filter((r) => r.path === path && r.answered === 204);

beforeAll(async () => {
  [stack, receiver, verifyTillproof] = await Promise.all([
    startStack({ vars: { ALLOW_INSECURE_WEBHOOKS: "on", WEBHOOK_RETRY_BASE_S: "1" } }),
    startReceiver(),
    docsVerifier(),
  ]);
  const t = await callStack(stack, "POST", "/v1/tenants", OPERATOR_TOKEN, { id: tenantId, name: "Hooks GmbH" });
  apiKey = t.body.apiKey ?? "";
  for (const store of ["main", "other"]) {
    await admin("PUT", `/stores/${store}`, { name: `Store ${store}`, timezone: "Europe/Berlin" });
    tokens[store] = (await admin("POST", `/stores/${store}/terminals`, { id: "till-1" })).body.token ?? "";
  }
}, 120_000);

afterAll(async () => {
  receiver?.server.close();
  await stack?.stop();
});

describe("webhooks on a real stack", () => {
  it("creates webhooks with a secret shown once, and keeps only a salt", async () => {
    const mirror = await admin("PUT", "/webhooks/mirror", {
      url: `${receiver.url}/hook`,
      events: ["receipt.persisted"],
      storeIds: ["main"],
    });
    expect(mirror.status).toBe(201);
    secrets.mirror = mirror.body.secret ?? "";
    expect(secrets.mirror).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const flaky = await admin("PUT", "/webhooks/flaky", {
      url: `${receiver.url}/flaky`,
      events: ["receipt.persisted"],
    });
    expect(flaky.status).toBe(201);
    secrets.flaky = flaky.body.secret ?? "";
    expect(secrets.flaky).not.toBe(secrets.mirror);

    const again = await admin("PUT", "/webhooks/flaky", {
      url: `${receiver.url}/flaky`,
      events: ["receipt.persisted"],
    });
    expect(again.status).toBe(200);
    expect(again.body.secret).toBeUndefined();

    const rows = await stack.sql("SELECT * FROM webhooks");
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(secrets.mirror);
    expect(dump).not.toContain("whsec_");
  });

  it("delivers every sale, signed as docs/api.md says, to the webhooks whose stores it matches", async () => {
    const main: string[] = [];
    for (let i = 1; i <= 5; i++) main.push(await sell("main", 100 + i));
    const other = [await sell("other", 201), await sell("other", 202)];

    await until("the mirror's deliveries", () => (delivered("/hook").length >= 5 ? true : undefined));
    // The flaky receiver answered 500 twice per event: retried until it took each.
    await until("the flaky receiver's deliveries", () => (delivered("/flaky").length >= 7 ? true : undefined));

    for (const r of receiver.received) {
      const secret = r.path === "/hook" ? secrets.mirror : secrets.flaky;
      expect(verifyTillproof(secret ?? "", r.signature, r.raw), `signature of ${r.eventId}`).toBe(true);
      expect(JSON.parse(r.raw).id).toBe(r.eventId);
    }
    expect(new Set(delivered("/hook").map((r) => r.eventId))).toEqual(new Set(main.map(eventOf)));
    expect(new Set(delivered("/flaky").map((r) => r.eventId))).toEqual(new Set([...main, ...other].map(eventOf)));

    // The body is the verify answer's receipt, without what only verifying says (its status, and a
    // sale's refunds and void, which come later than the delivery).
    const first = delivered("/hook").find((r) => r.eventId === eventOf(main[0] ?? ""));
    const event = JSON.parse(first?.raw ?? "{}");
    expect(event.type).toBe("receipt.persisted");
    const verified = (await callStack(stack, "GET", `/v1/verify/${main[0]}`, "")).body as Record<string, unknown>;
    const {
      status: _s,
      persisted: _p,
      proof: _proof,
      witnessed: _w,
      refunds: _r,
      refundedTotal: _t,
      voidedBy: _v,
      ...fields
    } = verified;
    expect(event.data.receipt).toEqual(fields);
    expect(event.data.receipt).toMatchObject({ kind: "sale", refersTo: null });

    // Every attempt of one event carried the same body.
    const attempts = receiver.received.filter((r) => r.path === "/flaky" && r.eventId === eventOf(main[0] ?? ""));
    expect(attempts.map((a) => a.answered)).toEqual([500, 500, 204]);
    expect(new Set(attempts.map((a) => a.raw)).size).toBe(1);

    const log = await admin("GET", "/webhooks/flaky/deliveries?status=delivered");
    const deliveries = (log.body as unknown as { deliveries: { attempts: number; lastStatus: number }[] }).deliveries;
    expect(deliveries).toHaveLength(7);
    for (const d of deliveries) expect(d).toMatchObject({ attempts: 3, lastStatus: 204 });
  });

  it("the docs' check refuses a wrong secret, a changed body and an old timestamp", () => {
    const r = delivered("/hook")[0];
    if (!r) throw new Error("no delivery");
    expect(verifyTillproof(secrets.flaky ?? "", r.signature, r.raw)).toBe(false);
    expect(verifyTillproof(secrets.mirror ?? "", r.signature, r.raw.replace('"total":1', '"total":9'))).toBe(false);
    expect(verifyTillproof(secrets.mirror ?? "", r.signature, r.raw, Date.now() + 10 * 60_000)).toBe(false);
  });

  it("retries a receiver that is down, gives up after 24 h, and a manual retry delivers", async () => {
    receiver.down(true);
    const code = await sell("main", 999);
    const path = `/webhooks/mirror/deliveries`;
    type Page = { deliveries: { eventId: string; status: string; attempts: number; lastError: string | null }[] };
    const pending = await until("a failed attempt", async () => {
      const page = (await admin("GET", `${path}?status=pending`)).body as unknown as Page;
      return page.deliveries.find((d) => d.eventId === eventOf(code) && d.attempts >= 1);
    });
    expect(pending.lastError).toBe("receiver answered 503");

    // A day later (moved back in Postgres rather than waited for), the next failure gives up.
    await stack.sql("UPDATE webhook_deliveries SET created_at = created_at - interval '25 hours' WHERE event_id = $1", [
      eventOf(code),
    ]);
    await until("the delivery to give up", async () => {
      const page = (await admin("GET", `${path}?status=failed`)).body as unknown as Page;
      return page.deliveries.find((d) => d.eventId === eventOf(code));
    });

    receiver.down(false);
    const retried = await admin("POST", `${path}/${eventOf(code)}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body.delivery).toMatchObject({ eventId: eventOf(code), status: "delivered", lastStatus: 204 });
    const last = delivered("/hook").at(-1);
    expect(last?.eventId).toBe(eventOf(code));
    expect(verifyTillproof(secrets.mirror ?? "", last?.signature ?? "", last?.raw ?? "")).toBe(true);
  });

  it("delivers a sale whose delivery was pending while Postgres was away", async () => {
    receiver.down(true);
    const code = await sell("main", 777);
    type Page = { deliveries: { eventId: string; attempts: number }[] };
    await until("a first failed attempt", async () => {
      const page = (await admin("GET", "/webhooks/mirror/deliveries?status=pending")).body as unknown as Page;
      return page.deliveries.find((d) => d.eventId === eventOf(code) && d.attempts >= 1);
    });
    stack.postgresDown(true);
    receiver.down(false);
    // The webhook consumer cannot read its deliveries now; its messages wait and come back.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(delivered("/hook").some((r) => r.eventId === eventOf(code))).toBe(false);
    stack.postgresDown(false);
    const got = await until("the delivery after Postgres is back", () =>
      delivered("/hook").find((r) => r.eventId === eventOf(code)),
    );
    expect(verifyTillproof(secrets.mirror ?? "", got.signature, got.raw)).toBe(true);
  });

  it("holds a delivery whose receipt no longer matches the signed log: never signed or sent, alerted, and a manual retry checks again", async () => {
    receiver.down(true);
    const [edited, rehashed] = [await sell("main", 501), await sell("main", 502)];
    type Page = { deliveries: { eventId: string; status: string; attempts: number; lastError: string | null }[] };
    const page = async (status: string) =>
      ((await admin("GET", `/webhooks/mirror/deliveries?status=${status}`)).body as unknown as Page).deliveries;
    for (const code of [edited, rehashed]) {
      await until("a first failed attempt", async () =>
        (await page("pending")).find((d) => d.eventId === eventOf(code) && d.attempts >= 1),
      );
    }
    // An insider edits one row, and rewrites the other so that it hashes to its (new) hash.
    await stack.sql(insiderSql(`UPDATE receipts SET total = 1 WHERE code = '${compactOf(edited)}'`));
    const [row] = await stack.sql<RecordRow>(`SELECT ${recordColumns()} FROM receipts WHERE code = $1`, [
      compactOf(rehashed),
    ]);
    const forged = { ...recordFromRow(row as RecordRow), total: 1 };
    await stack.sql(
      insiderSql(
        `UPDATE receipts SET total = 1, hash = '${canonicalHash(forged)}' WHERE code = '${compactOf(rehashed)}'`,
      ),
    );
    const before = receiver.received.length;
    receiver.down(false);
    const held = await until("both deliveries held", async () => {
      const h = (await page("held")).filter((d) => [edited, rehashed].map(eventOf).includes(d.eventId));
      return h.length === 2 ? h : undefined;
    });
    expect(held.find((d) => d.eventId === eventOf(edited))?.lastError).toBe(
      "held: the receipt no longer hashes to its hash",
    );
    expect(held.find((d) => d.eventId === eventOf(rehashed))?.lastError).toBe(
      "held: its hash is not the entry its shard's signed log holds",
    );
    // A manual retry checks again: still held, still not sent.
    const retried = await admin("POST", `/webhooks/mirror/deliveries/${eventOf(rehashed)}/retry`);
    expect(retried.body.delivery).toMatchObject({ status: "held" });
    expect(receiver.received.slice(before).filter((r) => [edited, rehashed].map(eventOf).includes(r.eventId))).toEqual(
      [],
    );
    // The operator sees it: status, its alert, /metrics.
    type Status = { webhooks: { held: number }; alerts: string[] };
    // (The flaky webhook takes every store: it holds its own two as well.)
    await until("the flaky webhook's two held", async () => {
      const [n] = await stack.sql<{ n: number }>(
        "SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'held'",
      );
      return n?.n === 4 ? true : undefined;
    });
    const status = (await callStack(stack, "GET", "/v1/ops/status", OPERATOR_TOKEN)).body as unknown as Status;
    expect(status.webhooks.held).toBe(4);
    expect(status.alerts.join("\n")).toContain("4 webhook deliveries are held");
    const metrics = await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(await metrics.text()).toMatch(/^tillproof_webhook_deliveries_held 4$/m);
    // Mended (the row put back as it was signed), a manual retry sends it.
    await stack.sql(insiderSql(`UPDATE receipts SET total = 501 WHERE code = '${compactOf(edited)}'`));
    const mended = await admin("POST", `/webhooks/mirror/deliveries/${eventOf(edited)}/retry`);
    expect(mended.body.delivery).toMatchObject({ status: "delivered", lastStatus: 204 });
  });

  it("does not follow a redirect: it is a failed attempt", async () => {
    expect(
      (await admin("PUT", "/webhooks/moved", { url: `${receiver.url}/redirect`, events: ["receipt.persisted"] }))
        .status,
    ).toBe(201);
    const code = await sell("other", 404);
    type Page = { deliveries: { eventId: string; attempts: number; lastStatus: number | null; lastError: string }[] };
    const d = await until("the redirect's attempt", async () => {
      const page = (await admin("GET", "/webhooks/moved/deliveries?status=pending")).body as unknown as Page;
      return page.deliveries.find((x) => x.eventId === eventOf(code) && x.attempts >= 1);
    });
    expect(d).toMatchObject({ lastStatus: 302, lastError: "receiver answered 302" });
    // Nothing reached the address the redirect named.
    expect(receiver.received.some((r) => r.path === "/hook" && r.eventId === eventOf(code))).toBe(false);
    expect((await admin("DELETE", "/webhooks/moved")).status).toBe(204);
  });

  it("a deleted webhook gets nothing more", async () => {
    expect((await admin("DELETE", "/webhooks/flaky")).status).toBe(204);
    expect((await admin("GET", "/webhooks/flaky")).status).toBe(404);
    const code = await sell("other", 303);
    await until("the sale to be persisted", async () => {
      const v = await callStack(stack, "GET", `/v1/verify/${code}`, "");
      return (v.body as unknown as { persisted?: boolean }).persisted ? true : undefined;
    });
    const rows = await stack.sql("SELECT count(*)::int AS n FROM webhook_deliveries WHERE code = $1", [
      code.replaceAll("-", ""),
    ]);
    expect(rows[0]).toEqual({ n: 0 });
    expect((await admin("GET", "/webhooks")).body).toMatchObject({ webhooks: [{ id: "mirror" }] });
  });
});
