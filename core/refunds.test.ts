import { describe, expect, it } from "vitest";
import type { ChainRecord, Item } from "./receipt.ts";
import {
  confirm,
  type Ledger,
  type LedgerRefusal,
  mirrorHash,
  nextExpiry,
  originalOf,
  type ReserveRequest,
  release,
  remaining,
  reserve,
  summary,
} from "./refunds.ts";

const items: Item[] = [
  { name: "Espresso", sku: "A1", quantity: 2, unitPrice: 250, taxRate: 7, total: 500 },
  { name: "Croissant", quantity: 3, unitPrice: 180, taxRate: 7, total: 540 },
  { name: "Espresso", sku: "A1", quantity: 1, unitPrice: 250, taxRate: 7, total: 250 },
  { name: "Flour", sku: "F", quantity: 0.3, unitPrice: 1000, total: 300 },
];
const sale: ChainRecord = {
  v: 1,
  code: "0000000000000000000A",
  tenantId: "acme",
  storeId: "berlin-1",
  terminalId: "till-1",
  seq: 1,
  issuedAt: "2026-12-01T10:00:00.000Z",
  receivedAt: "2026-12-01T10:00:00.000Z",
  currency: "EUR",
  total: 1590,
  items,
  payments: [{ method: "card", amount: 1590 }],
  kind: "sale",
  prevHash: "0".repeat(64),
};
const T0 = Date.parse(sale.receivedAt);
const open = (r: ChainRecord = sale): Ledger => ({ original: originalOf(r), holds: [] });

let n = 0;
function ask(l: Ledger, over: Partial<ReserveRequest> & Pick<ReserveRequest, "items">): LedgerRefusal | Ledger {
  n++;
  return reserve(l, {
    hold: `h${n}`,
    kind: "refund",
    bodyHash: `b${n}`,
    tenantId: "acme",
    storeId: "hamburg-2",
    currency: "EUR",
    mirror: "",
    from: 7,
    now: T0 + 1000,
    expiresAt: T0 + 61_000,
    voidWindowMs: 900_000,
    ...over,
  });
}
const ok = (x: LedgerRefusal | Ledger): Ledger => {
  if ("reason" in x) throw new Error(`refused: ${JSON.stringify(x)}`);
  return x;
};
const line = (name: string, quantity: number, total: number, sku?: string) => ({
  name,
  quantity,
  total,
  ...(sku ? { sku } : {}),
});

describe("the refund ledger", () => {
  it("adds up lines with the same sku, and keeps lines without one by name", () => {
    const o = originalOf(sale);
    expect(o.lines.map((l) => [l.key, l.quantity / 1e6, l.amount])).toEqual([
      ["s:A1", 3, 750],
      ["n:Croissant", 3, 540],
      ["s:F", 0.3, 300],
    ]);
  });

  it("lets many partial refunds give back a line up to its quantity and amount, and no further", () => {
    let l = open();
    for (let i = 0; i < 3; i++) l = ok(ask(l, { items: [line("Espresso", 1, 250, "A1")] }));
    expect(remaining(l).lines.get("s:A1")).toMatchObject({ quantity: 0, amount: 0 });
    const over = ask(l, { items: [line("Espresso", 1, 1, "A1")] });
    expect(over).toMatchObject({ reason: "refund_exceeds_original", path: "items.0" });
    expect((over as { message: string }).message).toContain("Espresso (sku A1)");
  });

  it("bounds a line's amount even when its quantity is left (the refund's price may differ)", () => {
    const l = ok(ask(open(), { items: [line("Croissant", 1, 500)] }));
    expect(ask(l, { items: [line("Croissant", 1, 41)] })).toMatchObject({ reason: "refund_exceeds_original" });
    expect("reason" in ask(l, { items: [line("Croissant", 2, 40)] })).toBe(false);
  });

  it("counts fractional quantities exactly (0.1 + 0.2 of a kilo is 0.3)", () => {
    let l = ok(ask(open(), { items: [line("Flour", 0.1, 100, "F")] }));
    l = ok(ask(l, { items: [line("Flour", 0.2, 200, "F")] }));
    expect(remaining(l).lines.get("s:F")).toMatchObject({ quantity: 0, amount: 0 });
  });

  it("matches a line by sku, or by name when the original line has none; refuses a line it cannot match", () => {
    expect("reason" in ask(open(), { items: [line("Croissant", 1, 180, "ANY")] })).toBe(false);
    expect(ask(open(), { items: [line("Tea", 1, 100)] })).toMatchObject({
      reason: "refund_exceeds_original",
      path: "items.0",
    });
    expect(ask(open(), { items: [line("Espresso", 1, 100)] })).toMatchObject({ reason: "refund_exceeds_original" });
  });

  it("refuses another tenant as not found, and another currency, a refund or a voided sale as not refundable", () => {
    expect(ask(open(), { tenantId: "evil", items: [line("Croissant", 1, 1)] })).toEqual({
      reason: "original_not_found",
    });
    expect(ask(open(), { currency: "USD", items: [line("Croissant", 1, 1)] })).toEqual({
      reason: "original_not_refundable",
    });
    expect(ask(open({ ...sale, kind: "refund" }), { items: [line("Croissant", 1, 1)] })).toEqual({
      reason: "original_not_refundable",
    });
    const voided = ok(ask(open(), { kind: "void", storeId: "berlin-1", mirror: mirrorHash(sale), items: [] }));
    expect(ask(voided, { items: [line("Croissant", 1, 1)] })).toEqual({ reason: "original_not_refundable" });
  });

  it("counts a reservation like a refund until it is released", () => {
    const l = ok(ask(open(), { hold: "x", items: [line("Croissant", 3, 540)] }));
    expect(ask(l, { items: [line("Croissant", 1, 1)] })).toMatchObject({ reason: "refund_exceeds_original" });
    const freed = release(l, "x");
    expect("reason" in ask(freed, { items: [line("Croissant", 1, 1)] })).toBe(false);
  });

  it("keeps a retry's place, refuses another body once confirmed, and never releases a confirmed or re-reserved hold", () => {
    let l = ok(ask(open(), { hold: "r", bodyHash: "B", items: [line("Croissant", 3, 540)] }));
    const attempt = l.holds[0]?.attempt as number;
    l = ok(ask(l, { hold: "r", bodyHash: "B", items: [line("Croissant", 3, 540)] }));
    expect(l.holds).toHaveLength(1);
    expect(release(l, "r", attempt)).toBe(l);
    l = confirm(l, {
      hold: "r",
      kind: "refund",
      from: 7,
      issued: { code: "R1", total: 540, receivedAt: "2026-12-01T10:01:00.000Z" },
    });
    expect(ask(l, { hold: "r", bodyHash: "other", items: [line("Croissant", 1, 1)] })).toEqual({
      reason: "idempotency_conflict",
    });
    expect(release(l, "r")).toBe(l);
    expect(summary(l)).toEqual({
      refunds: [{ code: "R1", total: 540, receivedAt: "2026-12-01T10:01:00.000Z" }],
      refundedTotal: 540,
      voidedBy: null,
    });
  });

  it("bounds the total over all lines", () => {
    const l = open({ ...sale, total: 1590 });
    expect("reason" in ask(l, { items: [line("Espresso", 3, 750, "A1"), line("Croissant", 3, 540)] })).toBe(false);
  });

  it("allows a void only from the same store, mirroring the sale, inside the window, with nothing given back", () => {
    const v = (over: Partial<ReserveRequest>, l = open()) =>
      ask(l, { kind: "void", storeId: "berlin-1", mirror: mirrorHash(sale), items: [], ...over });
    expect("reason" in v({})).toBe(false);
    expect(v({ storeId: "hamburg-2" })).toEqual({ reason: "void_not_allowed" });
    expect(v({ mirror: mirrorHash({ ...sale, total: 1 }) })).toEqual({ reason: "void_not_allowed" });
    expect(v({ now: T0 + 900_001 })).toEqual({ reason: "void_window_closed" });
    const refunded = ok(ask(open(), { items: [line("Croissant", 1, 1)] }));
    expect(v({}, refunded)).toEqual({ reason: "void_not_allowed" });
    expect(v({ now: T0 + 900_001 }, refunded)).toEqual({ reason: "void_not_allowed" });
    expect(v({}, open({ ...sale, kind: "refund" }))).toEqual({ reason: "void_not_allowed" });
    const voided = ok(v({}));
    expect(v({}, voided)).toEqual({ reason: "void_not_allowed" });
    expect(nextExpiry(voided)).toBe(T0 + 61_000);
  });

  it("puts back a confirmed refund whose hold was released on a stale answer", () => {
    const l = confirm(open(), {
      hold: "gone",
      kind: "refund",
      from: 3,
      claim: { total: 540, lines: [{ key: "n:Croissant", units: 3e6, amount: 540 }] },
      issued: { code: "R9", total: 540, receivedAt: "2026-12-01T10:02:00.000Z" },
    });
    expect(remaining(l).lines.get("n:Croissant")).toMatchObject({ quantity: 0, amount: 0 });
    expect(summary(l).refundedTotal).toBe(540);
  });
});
