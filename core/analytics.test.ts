import { describe, expect, it } from "vitest";
import { dailyCsv, dateRange, salesQuery, salesSeries, splitTax } from "./analytics.ts";

describe("splitTax", () => {
  it("takes net = round(gross × 100 / (100 + rate)), halves away from zero, and tax as the rest", () => {
    // 119 at 19 %: 100 exactly.
    expect(splitTax(119n, "19")).toEqual({ net: 100n, tax: 19n });
    // 100 at 19 %: 84.0336… → 84.
    expect(splitTax(100n, "19")).toEqual({ net: 84n, tax: 16n });
    // 107 at 7 %: 100; 1 at 7 %: 0.934… → 1.
    expect(splitTax(107n, "7")).toEqual({ net: 100n, tax: 7n });
    expect(splitTax(1n, "7")).toEqual({ net: 1n, tax: 0n });
    // 5 at 25 %: exactly 4; 5 at 150 %… not a rate we take, but 3 at 50 %: exactly 2.
    expect(splitTax(5n, "25")).toEqual({ net: 4n, tax: 1n });
    // A half: 21 at 20 % = 17.5 → 18 (away from zero); −21 → −18.
    expect(splitTax(21n, "20")).toEqual({ net: 18n, tax: 3n });
    expect(splitTax(-21n, "20")).toEqual({ net: -18n, tax: -3n });
    // A fractional rate: 1077 at 7.7 % = 1000 exactly; 100 at 7.7 % = 92.85… → 93.
    expect(splitTax(1077n, "7.7")).toEqual({ net: 1000n, tax: 77n });
    expect(splitTax(100n, "7.7")).toEqual({ net: 93n, tax: 7n });
    // A half at a fractional rate: 2.5 % of … 41 at 2.5 % = 40 exactly; 205 at 2.5 % = 200.
    expect(splitTax(205n, "2.5")).toEqual({ net: 200n, tax: 5n });
    // 0 % and no rate: all net.
    expect(splitTax(999n, "0")).toEqual({ net: 999n, tax: 0n });
    expect(splitTax(999n, "")).toEqual({ net: 999n, tax: 0n });
    // Beyond 2^53: still exact.
    expect(splitTax(11_900_000_000_000_000_000n, "19")).toEqual({
      net: 10_000_000_000_000_000_000n,
      tax: 1_900_000_000_000_000_000n,
    });
  });
});

describe("date ranges", () => {
  it("take real dates, from ≤ to, at most 366 days apart", () => {
    expect(dateRange.safeParse({ from: "2024-01-01", to: "2024-12-31" }).success).toBe(true); // 365
    expect(dateRange.safeParse({ from: "2024-01-01", to: "2025-01-01" }).success).toBe(true); // 366
    expect(dateRange.safeParse({ from: "2024-01-01", to: "2025-01-02" }).success).toBe(false); // 367
    expect(dateRange.safeParse({ from: "2024-02-02", to: "2024-02-01" }).success).toBe(false);
    expect(dateRange.safeParse({ from: "2023-02-29", to: "2023-03-01" }).success).toBe(false);
    expect(dateRange.safeParse({ from: "2024-02-29", to: "2024-03-01" }).success).toBe(true);
    expect(dateRange.safeParse({ from: "2024-1-1", to: "2024-03-01" }).success).toBe(false);
    // Year 0 parses in JavaScript but not in Postgres: refused here (400), not a 500 there.
    expect(dateRange.safeParse({ from: "0000-01-01", to: "0000-01-02" }).success).toBe(false);
    expect(dateRange.safeParse({ from: "1999-12-31", to: "2000-01-01" }).success).toBe(false);
  });

  it("name a bad date once, and judge the range only when both dates are real", () => {
    const r = salesQuery.safeParse({ from: "2026-02-30", to: "2026-03-01" });
    expect(r.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([["from", "is not a calendar date"]]);
  });

  it("default to daily buckets and refuse an unknown granularity", () => {
    expect(salesQuery.parse({ from: "2024-01-01", to: "2024-01-02" }).granularity).toBe("day");
    expect(salesQuery.safeParse({ from: "2024-01-01", to: "2024-01-02", granularity: "week" }).success).toBe(false);
  });
});

describe("the daily CSV", () => {
  it("has the contract's header and order: store, currency, rate numeric with empty last", () => {
    const csv = dailyCsv("2026-03-29", [
      { storeId: "b", currency: "EUR", rate: "19", receipts: 1, gross: 119n, refunds: 0, refunded: 0n },
      { storeId: "a", currency: "EUR", rate: "", receipts: 2, gross: 50n, refunds: 0, refunded: 0n },
      { storeId: "a", currency: "EUR", rate: "19", receipts: 3, gross: 100n, refunds: 0, refunded: 0n },
      { storeId: "a", currency: "EUR", rate: "7", receipts: 1, gross: 107n, refunds: 0, refunded: 0n },
      { storeId: "a", currency: "CHF", rate: "7.7", receipts: 1, gross: 1077n, refunds: 0, refunded: 0n },
    ]);
    expect(csv.split("\r\n")).toEqual([
      "store_id,date,currency,tax_rate,receipts,gross,net,tax",
      "a,2026-03-29,CHF,7.7,1,1077,1000,77",
      "a,2026-03-29,EUR,7,1,107,100,7",
      "a,2026-03-29,EUR,19,3,100,84,16",
      "a,2026-03-29,EUR,,2,50,50,0",
      "b,2026-03-29,EUR,19,1,119,100,19",
      "",
    ]);
  });
});

describe("the daily CSV with refunds and voids (v1.2)", () => {
  it("puts a rate's refunds right after its sales, negative, rounded the same way; a rate voided away has no sale row", () => {
    const csv = dailyCsv("2026-12-01", [
      { storeId: "a", currency: "EUR", rate: "19", receipts: 3, gross: 357n, refunds: 2, refunded: 119n },
      { storeId: "a", currency: "EUR", rate: "7", receipts: 0, gross: 0n, refunds: 1, refunded: 5n },
      { storeId: "a", currency: "EUR", rate: "", receipts: 0, gross: 0n, refunds: 0, refunded: 0n },
    ]);
    expect(csv.split("\r\n")).toEqual([
      "store_id,date,currency,tax_rate,receipts,gross,net,tax",
      "a,2026-12-01,EUR,7,1,-5,-5,0",
      "a,2026-12-01,EUR,19,3,357,300,57",
      "a,2026-12-01,EUR,19,2,-119,-100,-19",
      "",
    ]);
  });
});

describe("sales series", () => {
  it("adds refunds, refunded and net; keeps a bucket with only refunds; drops one whose sales were all voided", () => {
    const series = salesSeries(
      [
        {
          start: "d1",
          storeId: "a",
          currency: "EUR",
          receipts: 2,
          gross: 50,
          cash: 50,
          card: 0,
          other: 0,
          refunds: 1,
          refunded: 20,
        },
        {
          start: "d1",
          storeId: "b",
          currency: "EUR",
          receipts: 0,
          gross: 0,
          cash: 0,
          card: 0,
          other: 0,
          refunds: 2,
          refunded: 7,
        },
        {
          start: "d1",
          storeId: "c",
          currency: "EUR",
          receipts: 0,
          gross: 0,
          cash: 0,
          card: 0,
          other: 0,
          refunds: 0,
          refunded: 0,
        },
      ],
      [{ start: "d1", storeId: "c", currency: "EUR", rate: "19", gross: 0 }],
    );
    expect(series.map((s) => [s.storeId, s.receipts, s.gross, s.refunds, s.refunded, s.net])).toEqual([
      ["a", 2, 50, 1, 20, 30],
      ["b", 0, 0, 2, 7, -7],
    ]);
  });

  it("puts each bucket's tax rates beside its totals, ordered by start, store and currency", () => {
    const series = salesSeries(
      [
        {
          start: "2026-01-02",
          storeId: "a",
          currency: "EUR",
          receipts: 1,
          gross: 5,
          cash: 5,
          card: 0,
          other: 0,
          refunds: 0,
          refunded: 0,
        },
        {
          start: "2026-01-01",
          storeId: "b",
          currency: "EUR",
          receipts: 2,
          gross: 9,
          cash: 0,
          card: 9,
          other: 0,
          refunds: 0,
          refunded: 0,
        },
        {
          start: "2026-01-01",
          storeId: "a",
          currency: "EUR",
          receipts: 1,
          gross: 3,
          cash: 0,
          card: 0,
          other: 3,
          refunds: 0,
          refunded: 0,
        },
      ],
      [
        { start: "2026-01-01", storeId: "b", currency: "EUR", rate: "19", gross: 7 },
        { start: "2026-01-01", storeId: "b", currency: "EUR", rate: "", gross: 2 },
      ],
    );
    expect(series.map((s) => `${s.start}/${s.storeId}`)).toEqual(["2026-01-01/a", "2026-01-01/b", "2026-01-02/a"]);
    expect(series[1]?.byTaxRate).toEqual({ "19": 7, none: 2 });
    expect(series[1]?.byPayment).toEqual({ cash: 0, card: 9, other: 0 });
  });
});
