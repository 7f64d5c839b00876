import { describe, expect, it } from "vitest";
import type { ChainRecord } from "../../../core/receipt.ts";
import { problemsOf } from "./refunds.ts";

const sale: ChainRecord = {
  v: 1,
  code: "SALE",
  tenantId: "acme",
  storeId: "s1",
  terminalId: "t1",
  seq: 1,
  issuedAt: "2026-12-01T10:00:00.000Z",
  receivedAt: "2026-12-01T10:00:00.000Z",
  currency: "EUR",
  total: 700,
  items: [
    { name: "Lamp", sku: "L", quantity: 1, unitPrice: 500, total: 500 },
    { name: "Bulb", quantity: 2, unitPrice: 100, total: 200 },
  ],
  payments: [{ method: "card", amount: 700 }],
  kind: "sale",
  prevHash: "0".repeat(64),
};
const child = (code: string, kind: string, items: ChainRecord["items"], tenant = "acme") => ({
  code,
  kind,
  tenant_id: tenant,
  currency: "EUR",
  total: String(items.reduce((s, i) => s + i.total, 0)),
  items,
});
const bulb = (q: number) => [{ name: "Bulb", quantity: q, unitPrice: 100, total: 100 * q }];

describe("the audit's refund check", () => {
  it("passes refunds within the sale, and flags a line given back twice over", () => {
    expect(problemsOf(sale, [child("R1", "refund", bulb(1)), child("R2", "refund", bulb(1))], "SALE")).toEqual([]);
    const over = problemsOf(sale, [child("R1", "refund", bulb(2)), child("R2", "refund", bulb(1))], "SALE");
    expect(over).toEqual([
      expect.objectContaining({ kind: "refund", code: "SALE", detail: expect.stringContaining("Bulb") }),
    ]);
  });

  it("flags a refund of another tenant's sale, of a receipt that is no sale, or of nothing", () => {
    expect(problemsOf(sale, [child("X", "refund", bulb(1), "evil")], "SALE")).toEqual([
      expect.objectContaining({ code: "X" }),
    ]);
    expect(problemsOf({ ...sale, kind: "refund" }, [child("R", "refund", bulb(1))], "SALE")).toHaveLength(1);
    expect(problemsOf(null, [child("R", "void", sale.items)], "GONE")).toEqual([
      expect.objectContaining({ code: "R", detail: expect.stringContaining("GONE") }),
    ]);
  });

  it("flags a sale voided and refunded, or voided twice, and a refund of a line it never sold", () => {
    expect(problemsOf(sale, [child("V", "void", sale.items), child("R", "refund", bulb(1))], "SALE")).toHaveLength(1);
    expect(problemsOf(sale, [child("V1", "void", sale.items), child("V2", "void", sale.items)], "SALE")).toHaveLength(
      1,
    );
    expect(
      problemsOf(sale, [child("R", "refund", [{ name: "Tea", quantity: 1, unitPrice: 1, total: 1 }])], "SALE"),
    ).toEqual([expect.objectContaining({ code: "R" })]);
  });
});
