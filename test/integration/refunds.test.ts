/**
 * Refunds and voids end to end in workerd against Postgres (contract v1.2):
 * a refund at another store on another shard, the race for the last unit,
 * retries, the void window and every refusal, and what verify, Postgres and
 * analytics make of them.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeCode, parseCode } from "../../core/code.ts";
import { shardForStore } from "../../core/ids.ts";
import { dbOf, openPg } from "../../db/client.ts";
import { rebuildRollups } from "../../db/rollups.ts";
import {
  call,
  compact,
  eventually,
  type Fixture,
  fixture,
  issue,
  issuePersisted,
  OPERATOR_TOKEN,
  sale,
  sqlQuery,
  storeIdInBand,
  useShardBand,
} from "./helpers.ts";

useShardBand(17);

type Verified = {
  kind: string;
  refersTo: string | null;
  refunds?: { code: string; total: number; receivedAt: string }[];
  refundedTotal?: number;
  voidedBy?: string | null;
  reason?: string;
  persisted: boolean;
};
type ErrorReply = { error: { code: string; message: string; details?: { path: string; message: string }[] } };

/** Another store of the fixture's tenant, on another shard, with its own terminal. */
async function otherStore(f: Fixture): Promise<{ storeId: string; token: string }> {
  const mine = shardForStore(f.tenantId, f.storeId, 1024);
  let storeId = storeIdInBand(f.tenantId);
  while (shardForStore(f.tenantId, storeId, 1024) === mine) storeId = storeIdInBand(f.tenantId);
  const s = await call("PUT", `/v1/tenants/${f.tenantId}/stores/${storeId}`, {
    token: f.apiKey,
    body: { name: "Harbour Road", timezone: "Europe/Berlin" },
  });
  if (s.status !== 201) throw new Error(`store: ${s.status} ${s.text}`);
  const t = await call<{ token: string }>("POST", `/v1/tenants/${f.tenantId}/stores/${storeId}/terminals`, {
    token: f.apiKey,
    body: { id: "till-9" },
  });
  if (t.status !== 201) throw new Error(`terminal: ${t.status} ${t.text}`);
  return { storeId, token: t.body.token };
}

/** A second terminal in the fixture's own store. */
async function secondTill(f: Fixture): Promise<string> {
  const t = await call<{ token: string }>("POST", `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals`, {
    token: f.apiKey,
    body: { id: "till-2" },
  });
  return t.body.token;
}

const refundBody = (
  refersTo: string | undefined,
  items: { name: string; sku?: string; quantity: number; price: number; taxRate?: number }[],
  extra = {},
) => {
  const lines = items.map((i) => ({
    name: i.name,
    ...(i.sku ? { sku: i.sku } : {}),
    quantity: i.quantity,
    unitPrice: i.price,
    ...(i.taxRate === undefined ? {} : { taxRate: i.taxRate }),
    total: Math.round(i.quantity * i.price),
  }));
  const total = lines.reduce((s, l) => s + l.total, 0);
  return {
    issuedAt: new Date().toISOString(),
    currency: "EUR",
    kind: "refund",
    ...(refersTo ? { refersTo } : {}),
    items: lines,
    total,
    payments: [{ method: "card", amount: total }],
    ...extra,
  };
};

/** The void of a sale made with helpers' sale(): the same items, total and payments. */
const voidOf = (code: string, over: Record<string, unknown> = {}) => ({
  ...sale(),
  issuedAt: new Date().toISOString(),
  kind: "void",
  refersTo: code,
  ...over,
});

const verify = (code: string) => call<Verified>("GET", `/v1/verify/${code}`);

describe("refunds", () => {
  it("refunds part of a sale at another store on another shard; both sides tell of it", async () => {
    const f = await fixture();
    const other = await otherStore(f);
    const s = await issue(f.token, sale());
    expect(s.status).toBe(201);
    expect(s.body).toMatchObject({ kind: "sale", refersTo: null });
    const r = await issue(
      other.token,
      refundBody(s.body.code.toLowerCase(), [{ name: "Espresso", sku: "A1", quantity: 1, price: 250 }]),
    );
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ kind: "refund", refersTo: s.body.code, storeId: other.storeId });
    const sv = await verify(s.body.code);
    expect(sv.body).toMatchObject({
      kind: "sale",
      refundedTotal: 250,
      voidedBy: null,
      refunds: [{ code: r.body.code, total: 250, receivedAt: r.body.receivedAt }],
    });
    const rv = await verify(r.body.code);
    expect(rv.body).toMatchObject({ kind: "refund", refersTo: s.body.code });
    expect(rv.body.refunds).toBeUndefined();
    // Postgres has the link, hashed with the record.
    const rows = await eventually(async () => {
      const got = await sqlQuery<{ kind: string; refers_to: string | null }>(
        "SELECT kind, refers_to FROM receipts WHERE code = $1",
        [compact(r.body.code)],
      );
      return got.length ? got : null;
    });
    expect(rows[0]).toEqual({ kind: "refund", refers_to: compact(s.body.code) });
    await eventually(async () => ((await verify(r.body.code)).body.persisted ? true : null));
    expect((await verify(r.body.code)).body).toMatchObject({ kind: "refund", refersTo: s.body.code });
  });

  it("never gives back more than was paid, per line and in total, naming the line", async () => {
    const f = await fixture();
    const s = await issuePersisted(f.token);
    // The refund's unit price may differ from the sale's; the line's amount (500) and quantity (2) bound it.
    const first = await issue(f.token, refundBody(s.code, [{ name: "Espresso", sku: "A1", quantity: 1, price: 400 }]));
    expect(first.status).toBe(201);
    const more = await issue(f.token, refundBody(s.code, [{ name: "Espresso", sku: "A1", quantity: 1, price: 150 }]));
    expect(more.status).toBe(409);
    expect((more.body as unknown as ErrorReply).error).toMatchObject({
      code: "refund_exceeds_original",
      details: [{ path: "items.0", message: expect.stringContaining("Espresso") }],
    });
    const unknownLine = await issue(f.token, refundBody(s.code, [{ name: "Tea", quantity: 1, price: 10 }]));
    expect((unknownLine.body as unknown as ErrorReply).error.code).toBe("refund_exceeds_original");
    const overTotal = await issue(f.token, refundBody(s.code, [{ name: "Croissant", quantity: 2, price: 90 }]));
    expect((overTotal.body as unknown as ErrorReply).error.code).toBe("refund_exceeds_original");
    // What is left of the espresso line (one unit, 100) still goes back.
    const rest = await issue(f.token, refundBody(s.code, [{ name: "Espresso", sku: "A1", quantity: 1, price: 100 }]));
    expect(rest.status).toBe(201);
    expect((await verify(s.code)).body.refundedTotal).toBe(500);
  });

  it("gives the last unit to one of ten refunds racing for it from three stores", async () => {
    const f = await fixture();
    const a = await otherStore(f);
    const b = await otherStore(f);
    const s = await issue(
      f.token,
      sale({
        items: [{ name: "Lamp", sku: "L1", quantity: 1, unitPrice: 4000, total: 4000 }],
        total: 4000,
        payments: [{ method: "card", amount: 4000 }],
      }),
    );
    const tokens = [f.token, a.token, b.token];
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        issue(
          tokens[i % 3] as string,
          refundBody(s.body.code, [{ name: "Lamp", sku: "L1", quantity: 1, price: 4000 }]),
        ),
      ),
    );
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    for (const r of replies.filter((x) => x.status === 409)) {
      expect((r.body as unknown as ErrorReply).error.code).toBe("refund_exceeds_original");
    }
    const v = await verify(s.body.code);
    expect(v.body.refunds).toHaveLength(1);
    expect(v.body.refundedTotal).toBe(4000);
  });

  it("replays a retry after a lost reply, never counting it twice; another body under the key is a conflict", async () => {
    const f = await fixture();
    const other = await otherStore(f);
    const s = await issue(f.token, sale());
    const body = refundBody(s.body.code, [{ name: "Croissant", quantity: 1, price: 180 }]);
    const first = await issue(other.token, body, "refund-key-1");
    const again = await issue(other.token, body, "refund-key-1");
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.text).toBe(first.text);
    expect((await verify(s.body.code)).body.refundedTotal).toBe(180);
    const other2 = await issue(other.token, { ...body, cashier: "Someone else" }, "refund-key-1");
    expect(other2.status).toBe(409);
    expect((other2.body as unknown as ErrorReply).error.code).toBe("idempotency_conflict");
  });

  it("accepts a refund without an original only with a reason, and shows the reason", async () => {
    const f = await fixture();
    const bare = await issue(f.token, refundBody(undefined, [{ name: "Goodwill", quantity: 1, price: 500 }]));
    expect(bare.status).toBe(400);
    expect((bare.body as unknown as ErrorReply).error).toMatchObject({
      code: "validation_failed",
      details: [{ path: "reason" }],
    });
    const withReason = await issue(
      f.token,
      refundBody(undefined, [{ name: "Goodwill", quantity: 1, price: 500 }], {
        reason: "Receipt lost; manager approved",
      }),
    );
    expect(withReason.status).toBe(201);
    expect(withReason.body).toMatchObject({ kind: "refund", refersTo: null });
    expect((await verify(withReason.body.code)).body).toMatchObject({ reason: "Receipt lost; manager approved" });
  });

  it("refuses what the contract names: unknown, another tenant's, malformed, not refundable, another currency", async () => {
    const f = await fixture();
    const stranger = await fixture();
    const s = await issue(f.token, sale());
    const theirs = await issue(stranger.token, sale());
    const p = parseCode("test-code-key", s.body.code);
    if (!p) throw new Error("bad code");
    const neverIssued = encodeCode("test-code-key", { shard: p.shard, counter: p.counter + 1000 });
    const line = [{ name: "Croissant", quantity: 1, price: 180 }];
    const codeOf = async (body: unknown) => {
      const r = await issue(f.token, body);
      return [r.status, (r.body as unknown as ErrorReply).error?.code];
    };
    expect(await codeOf(refundBody(neverIssued, line))).toEqual([409, "original_not_found"]);
    expect(await codeOf(refundBody(theirs.body.code, line))).toEqual([409, "original_not_found"]);
    expect(await codeOf(refundBody("NOT-A-CODE", line))).toEqual([400, "invalid_code"]);
    expect(await codeOf(refundBody("X".repeat(500), line))).toEqual([400, "invalid_code"]);
    expect(await codeOf(refundBody(s.body.code, line, { currency: "USD" }))).toEqual([409, "original_not_refundable"]);
    const r = await issue(f.token, refundBody(s.body.code, line));
    expect(await codeOf(refundBody(r.body.code, line))).toEqual([409, "original_not_refundable"]);
    expect(await codeOf({ ...sale(), refersTo: s.body.code })).toEqual([400, "validation_failed"]);
  });
});

describe("voids", () => {
  it("voids a sale from a till of its store: the sale says so, refunds are refused, the void links back", async () => {
    const f = await fixture();
    const till2 = await secondTill(f);
    const s = await issue(f.token, sale());
    const v = await issue(till2, voidOf(s.body.code));
    expect(v.status).toBe(201);
    expect(v.body).toMatchObject({ kind: "void", refersTo: s.body.code });
    expect((await verify(s.body.code)).body).toMatchObject({ voidedBy: v.body.code, refunds: [], refundedTotal: 0 });
    expect((await verify(v.body.code)).body).toMatchObject({ kind: "void", refersTo: s.body.code });
    const again = await issue(f.token, voidOf(s.body.code));
    expect((again.body as unknown as ErrorReply).error.code).toBe("void_not_allowed");
    const refund = await issue(f.token, refundBody(s.body.code, [{ name: "Croissant", quantity: 1, price: 180 }]));
    expect((refund.body as unknown as ErrorReply).error.code).toBe("original_not_refundable");
  });

  it("refuses a void from another store, with another body, after a refund, or of a refund", async () => {
    const f = await fixture();
    const other = await otherStore(f);
    const s = await issue(f.token, sale());
    const codeOf = async (token: string, body: unknown) => {
      const r = await issue(token, body);
      return [r.status, (r.body as unknown as ErrorReply).error?.code];
    };
    expect(await codeOf(other.token, voidOf(s.body.code))).toEqual([409, "void_not_allowed"]);
    expect(await codeOf(f.token, voidOf(s.body.code, { payments: [{ method: "cash", amount: 680 }] }))).toEqual([
      409,
      "void_not_allowed",
    ]);
    const r = await issue(other.token, refundBody(s.body.code, [{ name: "Croissant", quantity: 1, price: 180 }]));
    expect(r.status).toBe(201);
    expect(await codeOf(f.token, voidOf(s.body.code))).toEqual([409, "void_not_allowed"]);
    expect(await codeOf(f.token, voidOf(r.body.code))).toEqual([409, "void_not_allowed"]);
    expect(await codeOf(f.token, { ...voidOf(s.body.code), refersTo: undefined })).toEqual([400, "validation_failed"]);
  });

  it("closes the window VOID_WINDOW_S after the sale was received (5 s in these tests)", async () => {
    const f = await fixture();
    const s = await issue(f.token, sale());
    await new Promise((r) => setTimeout(r, 5_200));
    const late = await issue(f.token, voidOf(s.body.code));
    expect(late.status).toBe(409);
    expect((late.body as unknown as ErrorReply).error.code).toBe("void_window_closed");
  });
});

describe("refunds and voids in the lottery", () => {
  it("lets a sale take part net of its refunds, and never a refund, a void or a voided sale", async () => {
    const f = await fixture();
    const till2 = await secondTill(f);
    const drawId = `d-${crypto.randomUUID().slice(0, 8)}`;
    const draw = await call("POST", "/v1/lottery/draws", {
      token: OPERATOR_TOKEN,
      body: {
        id: drawId,
        title: "Refund rules",
        closesAt: new Date(Date.now() + 3_600_000).toISOString(),
        minTotal: 500,
        tenants: [f.tenantId],
        prizes: [{ name: "p", digits: 4, numbers: 1 }],
      },
    });
    expect(draw.status).toBe(201);
    const now = () => new Date().toISOString();
    const whole = await issue(f.token, sale({ issuedAt: now() }));
    const refunded = await issue(f.token, sale({ issuedAt: now() }));
    const small = await issue(
      f.token,
      refundBody(refunded.body.code, [{ name: "Espresso", sku: "A1", quantity: 1, price: 200 }]),
    );
    const voided = await issue(f.token, sale({ issuedAt: now() }));
    const voiding = await issue(till2, voidOf(voided.body.code));
    expect([small.status, voiding.status]).toEqual([201, 201]);
    const eligible = async (code: string) =>
      (await call<{ eligible: boolean }>("GET", `/v1/lottery/draws/${drawId}/check/${code}`)).body.eligible;
    // 680 takes part; 680 − 200 = 480 is under minTotal 500; refunds, voids and voided sales never do.
    expect(await eligible(whole.body.code)).toBe(true);
    expect(await eligible(refunded.body.code)).toBe(false);
    expect(await eligible(small.body.code)).toBe(false);
    expect(await eligible(voided.body.code)).toBe(false);
    expect(await eligible(voiding.body.code)).toBe(false);
  });
});

describe("refunds and voids in analytics", () => {
  it("books refunds on the refund's store and day, takes a voided sale out everywhere, and the rebuild agrees", async () => {
    const f = await fixture();
    const other = await otherStore(f);
    const day = "2026-11-21";
    const kept = await issue(f.token, sale());
    const voided = await issue(f.token, sale());
    expect((await issue(f.token, voidOf(voided.body.code, { issuedAt: "2026-11-21T10:20:00+01:00" }))).status).toBe(
      201,
    );
    const refund = await issue(
      other.token,
      refundBody(kept.body.code, [{ name: "Espresso", sku: "A1", quantity: 1, price: 250, taxRate: 10 }], {
        issuedAt: "2026-11-21T12:00:00+01:00",
      }),
    );
    expect(refund.status).toBe(201);
    const sales = async () =>
      (
        await call<{ series: Record<string, unknown>[] }>(
          "GET",
          `/v1/tenants/${f.tenantId}/analytics/sales?from=${day}&to=${day}`,
          { token: f.apiKey },
        )
      ).body.series;
    const expected = [
      { storeId: f.storeId, receipts: 1, gross: 680, refunds: 0, refunded: 0, net: 680 },
      { storeId: other.storeId, receipts: 0, gross: 0, refunds: 1, refunded: 250, net: -250 },
    ].sort((a, b) => (a.storeId < b.storeId ? -1 : 1));
    const series = await eventually(async () => {
      const got = await sales();
      const total = got.reduce((n, b) => n + Number(b.receipts) + Number(b.refunds), 0);
      return total === 2 ? got : null;
    });
    expect(series).toEqual(expected.map((e) => expect.objectContaining(e)));
    const csv = await call("GET", `/v1/tenants/${f.tenantId}/exports/daily.csv?date=${day}`, { token: f.apiKey });
    const lines = csv.text.trim().split("\r\n");
    expect(lines[0]).toBe("store_id,date,currency,tax_rate,receipts,gross,net,tax");
    expect(lines).toContain(`${f.storeId},${day},EUR,10,1,500,455,45`);
    expect(lines).toContain(`${other.storeId},${day},EUR,10,1,-250,-227,-23`);
    expect(lines).toHaveLength(4);
    // The rebuild (npm run analytics:rebuild) recomputes the same from the receipts alone.
    const pg = openPg({ DATABASE_URL: env.TEST_ADMIN_DATABASE_URL, NEON_WS_PROXY: env.NEON_WS_PROXY });
    const client = await pg.pool.connect();
    try {
      await rebuildRollups(dbOf(client), day, day);
    } finally {
      client.release();
      await pg.end();
    }
    expect(await sales()).toEqual(series);
    const again = await call("GET", `/v1/tenants/${f.tenantId}/exports/daily.csv?date=${day}`, { token: f.apiKey });
    expect(again.text).toBe(csv.text);
  });
});
