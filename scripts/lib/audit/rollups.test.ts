import { describe, expect, it } from "vitest";
import { compareRollups, type Fact, type Stored, Tally } from "./rollups.ts";

const base = { tenant_id: "t1", store_id: "s1", currency: "EUR", day: "2026-12-06" } as const;
const sale: Fact = {
  ...base,
  code: "A",
  kind: "sale",
  total: "1000",
  items: [
    { name: "Bread", sku: "B1", quantity: 2, unitPrice: 300, taxRate: 7, total: 600 },
    { name: "Wine", quantity: 0.5, unitPrice: 800, taxRate: 19, total: 400 },
  ],
  payments: [
    { method: "cash", amount: 600 },
    { method: "card", amount: 400 },
  ],
};
const key = (...sub: string[]) => [base.tenant_id, base.store_id, base.currency, base.day, ...sub].join("\u0000");

function tallyOf(facts: Fact[]): Tally {
  const t = new Tally();
  for (const f of facts) t.add(f);
  return t;
}

describe("the audit's own rollup arithmetic", () => {
  it("counts a sale per day, rate and item, and a void takes it back out everywhere", () => {
    const t = tallyOf([sale]);
    expect(t.sales.get(key())).toEqual({
      receipts: 1,
      gross: 1000,
      cash: 600,
      card: 400,
      other: 0,
      refunds: 0,
      refunded: 0,
    });
    expect(t.tax.get(key("7"))).toEqual({ receipts: 1, gross: 600, refunds: 0, refunded: 0 });
    expect(t.items.get(key("n:Wine"))).toEqual({ quantity: 0.5, revenue: 400, receipts: 1 });
    t.add({ ...sale, code: "V", kind: "void" });
    expect(t.sales.get(key())).toMatchObject({ receipts: 0, gross: 0, cash: 0, card: 0 });
    expect(t.items.get(key("s:B1"))).toEqual({ quantity: 0, revenue: 0, receipts: 0 });
  });

  it("books a refund as refunds and refunded, never as gross or items", () => {
    const t = tallyOf([
      {
        ...sale,
        code: "R",
        kind: "refund",
        total: "300",
        items: [{ ...(sale.items[0] as Fact["items"][0]), quantity: 1, total: 300 }],
      },
    ]);
    expect(t.sales.get(key())).toMatchObject({ receipts: 0, gross: 0, refunds: 1, refunded: 300 });
    expect(t.tax.get(key("7"))).toEqual({ receipts: 0, gross: 0, refunds: 1, refunded: 300 });
    expect(t.items.size).toBe(0);
  });

  it("counts a receipt once per rate and per item, however many lines fall there", () => {
    const line = sale.items[0] as Fact["items"][0];
    const t = tallyOf([{ ...sale, items: [line, line], total: "1200", payments: [{ method: "other", amount: 1200 }] }]);
    expect(t.tax.get(key("7"))).toMatchObject({ receipts: 1, gross: 1200 });
    expect(t.items.get(key("s:B1"))).toEqual({ quantity: 4, revenue: 1200, receipts: 1 });
    expect(t.sales.get(key())).toMatchObject({ other: 1200, cash: 0 });
  });

  it("finds a stored figure that differs, a stored row with no receipts, and a missing one", () => {
    const t = tallyOf([sale]);
    const copy = (m: Map<string, Record<string, number>>) => new Map([...m].map(([k, v]) => [k, { ...v }]));
    const stored: Stored = { sales: copy(t.sales), tax: copy(t.tax), items: copy(t.items) };
    expect(compareRollups(t, stored)).toEqual([]);
    (stored.sales.get(key()) as Record<string, number>).gross = 900;
    stored.tax.set(key("0"), { receipts: 3, gross: 50, refunds: 0, refunded: 0 });
    stored.items.delete(key("s:B1"));
    const problems = compareRollups(t, stored);
    expect(problems.map((p) => p.code)).toEqual([
      "t1/s1 EUR 2026-12-06",
      "t1/s1 EUR 2026-12-06 rate '0'",
      "t1/s1 EUR 2026-12-06 s:B1",
    ]);
    expect(problems[0]?.detail).toBe("sales rollup differs from its receipts: gross 900 stored, 1000 recomputed");
    expect(problems.every((p) => p.kind === "rollup")).toBe(true);
  });

  it("takes a stored row of zeros as no row (a sale and its void)", () => {
    const t = tallyOf([sale, { ...sale, code: "V", kind: "void" }]);
    expect(compareRollups(t, { sales: new Map(), tax: new Map(), items: new Map() })).toEqual([]);
  });
});
