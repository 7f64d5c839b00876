import { describe, expect, it } from "vitest";
import { parseReceipt } from "../../core/receipt.ts";
import { refundBody, voidBody } from "./returns.ts";

const sale = {
  issuedAt: "2026-12-06T10:00:00Z",
  currency: "EUR",
  items: [
    { name: "Mug", sku: "M", quantity: 3, unitPrice: 333, taxRate: 19, total: 999 },
    { name: "Flour", quantity: 0.5, unitPrice: 301, total: 151 },
  ],
  total: 1150,
  payments: [{ method: "card", amount: 1150 }],
};

describe("the simulator's returns", () => {
  it("makes refunds and voids the gateway's rules accept", () => {
    const now = Date.parse("2026-12-06T12:00:00Z");
    for (const [pick, partial] of [
      [0, true],
      [0, false],
      [0.9, true],
      [0.9, false],
    ] as const) {
      const r = refundBody(JSON.stringify(sale), "CODE", pick, partial, now);
      expect(() => parseReceipt(r, now)).not.toThrow();
      expect(r.total).toBeLessThanOrEqual(sale.total);
    }
    expect(refundBody(JSON.stringify(sale), "CODE", 0, true, now).items[0]).toMatchObject({ quantity: 1, total: 333 });
    const v = voidBody(JSON.stringify(sale), "CODE", now);
    expect(() => parseReceipt(v, now)).not.toThrow();
    expect(v).toMatchObject({ items: sale.items, total: sale.total, payments: sale.payments, refersTo: "CODE" });
  });
});
