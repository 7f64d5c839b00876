import { describe, expect, it } from "vitest";
import { parseReceipt } from "../../core/receipt.ts";
import { historyOf, localToUtc } from "./backfill.ts";

const iso = (ms: number) => new Date(ms).toISOString();

describe("backfilled history", () => {
  it("places local wall-clock times on the right UTC instant, across DST and half-hour zones", () => {
    expect(iso(localToUtc("Europe/Berlin", 2026, 2, 28, 23 * 60 + 30))).toBe("2026-03-28T22:30:00.000Z");
    expect(iso(localToUtc("Europe/Berlin", 2026, 2, 29, 3 * 60 + 30))).toBe("2026-03-29T01:30:00.000Z");
    expect(iso(localToUtc("Asia/Kolkata", 2026, 2, 29, 10))).toBe("2026-03-28T18:40:00.000Z");
  });

  it("sells in opening hours only, in the store's currency, busier on Saturdays than Sundays, all valid", () => {
    const now = Date.parse("2026-11-30T12:00:00Z");
    const sales = historyOf("Europe/Zurich", 28, 100, 7, now);
    const hour = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Zurich", hour: "numeric", hourCycle: "h23" });
    const weekday = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Zurich", weekday: "short" });
    const perDay = new Map<string, number>();
    for (const s of sales) {
      const t = Date.parse(s.issuedAt);
      expect(t).toBeLessThan(Date.parse("2026-11-30T00:00:00+01:00"));
      const h = Number(hour.format(t));
      expect(h).toBeGreaterThanOrEqual(7);
      expect(h).toBeLessThan(22);
      expect(s.currency).toBe("CHF");
      expect(() => parseReceipt(s, now)).not.toThrow();
      perDay.set(weekday.format(t), (perDay.get(weekday.format(t)) ?? 0) + 1);
    }
    expect(sales.length).toBeGreaterThan(2_000);
    expect(perDay.get("Sat") ?? 0).toBeGreaterThan(3 * (perDay.get("Sun") ?? 0));
  });
});
