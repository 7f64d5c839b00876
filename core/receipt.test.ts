import { describe, expect, it } from "vitest";
import { canonicalHash } from "./canonical.ts";
import { buildRecord, GENESIS_HASH, parseReceipt, type ReceiptInput, ReceiptRefused } from "./receipt.ts";

const NOW = Date.parse("2026-11-21T10:00:00Z");

const sale = (): ReceiptInput => ({
  issuedAt: "2026-11-21T10:15:00+01:00",
  currency: "EUR",
  items: [
    { name: "Espresso", sku: "A1", quantity: 2, unitPrice: 250, taxRate: 10, total: 500 },
    { name: "Cheese", quantity: 0.333, unitPrice: 1999, total: 666 },
  ],
  total: 1166,
  payments: [
    { method: "cash", amount: 1000 },
    { method: "card", amount: 166 },
  ],
});

function errorOf(body: unknown): ReceiptRefused {
  try {
    parseReceipt(body, NOW);
  } catch (e) {
    if (e instanceof ReceiptRefused) return e;
    throw e;
  }
  throw new Error("expected a validation error");
}

describe("parseReceipt", () => {
  it("accepts a receipt that adds up, rounding fractional quantities", () => {
    expect(parseReceipt(sale(), NOW).total).toBe(1166);
  });

  it("names the item whose total is wrong", () => {
    const r = sale();
    r.items[0] = { ...r.items[0]!, total: 499 };
    const e = errorOf(r);
    expect(e.reason).toBe("invalid");
    expect(e.problems.map((d) => d.path)).toContain("items.0.total");
  });

  it("checks the grand total and the payments", () => {
    expect(errorOf({ ...sale(), total: 1 }).problems.map((d) => d.path)).toEqual(["total", "payments"]);
    const r = sale();
    r.payments = [{ method: "cash", amount: 1165 }];
    expect(errorOf(r).problems.map((d) => d.path)).toEqual(["payments"]);
  });

  it.each([
    ["no items", { items: [] }, "items"],
    ["501 items", { items: Array(501).fill({ name: "x", quantity: 1, unitPrice: 0, total: 0 }) }, "items"],
    ["a negative quantity", { items: [{ name: "x", quantity: -1, unitPrice: 1, total: -1 }] }, "items.0.quantity"],
    ["a fractional amount", { total: 11.5 }, "total"],
    ["a huge amount", { total: 1e16 }, "total"],
    ["an unknown currency", { currency: "EURO" }, "currency"],
    ["an unknown payment method", { payments: [{ method: "iou", amount: 1166 }] }, "payments.0.method"],
    ["a date without offset", { issuedAt: "2026-11-21T10:15:00" }, "issuedAt"],
    ["an unknown field", { extra: 1 }, ""],
  ])("rejects %s", (_, patch, path) => {
    const e = errorOf({ ...sale(), ...patch });
    expect(e.reason).toBe("invalid");
    expect(e.problems.map((d) => d.path)).toContain(path);
  });

  it("refuses card numbers in any text field", () => {
    const r = sale();
    r.cashier = "4111 1111 1111 1111";
    const e = errorOf(r);
    expect(e.reason).toBe("card_data");
    expect(e.problems[0]?.path).toBe("cashier");
  });

  it("refuses receipts dated more than an hour ahead", () => {
    expect(errorOf({ ...sale(), issuedAt: "2026-11-21T12:00:01Z" }).problems[0]?.path).toBe("issuedAt");
  });
});

describe("buildRecord", () => {
  it("normalizes times to UTC and hashes deterministically", () => {
    const args = {
      input: parseReceipt(sale(), NOW),
      code: "0000000000000000",
      tenantId: "acme",
      storeId: "berlin-1",
      terminalId: "till-1",
      seq: 1,
      receivedAt: NOW,
      prevHash: GENESIS_HASH,
    };
    const record = buildRecord(args);
    expect(record.issuedAt).toBe("2026-11-21T09:15:00.000Z");
    expect(record.receivedAt).toBe("2026-11-21T10:00:00.000Z");
    expect("cashier" in record).toBe(false);
    expect(canonicalHash(record)).toBe(canonicalHash(buildRecord(args)));
    expect(canonicalHash(record)).not.toBe(canonicalHash({ ...record, total: 1167 }));
  });
});
