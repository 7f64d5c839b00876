import { describe, expect, it } from "vitest";
import { formatDateTime, formatMoney, formatQuantity, fractionDigits, pickLocale } from "./format.ts";

// ICU separates some parts with (narrow) no-break spaces; compare with plain ones.
const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, " ");

describe("locale from Accept-Language", () => {
  it.each([
    [undefined, "en"],
    ["", "en"],
    ["de-DE,de;q=0.9,en;q=0.8", "de-DE"],
    ["en;q=0.5, fr-CH", "fr-CH"],
    ["*", "en"],
    ["xx-invalid-tag-!!, nl", "nl"],
    ["de;q=0", "en"],
    ["ja;q=0.8, ja-JP;q=0.8", "ja"],
  ])("%j → %s", (header, locale) => {
    expect(pickLocale(header)).toBe(locale);
  });
});

describe("money in minor units", () => {
  it("uses the currency's digits, whatever the locale", () => {
    expect(fractionDigits("EUR")).toBe(2);
    expect(fractionDigits("JPY")).toBe(0);
    expect(fractionDigits("BHD")).toBe(3);
    expect(formatMoney(680, "EUR", "en")).toBe("€6.80");
    expect(plain(formatMoney(680, "EUR", "de-DE"))).toBe("6,80 €");
    expect(formatMoney(680, "JPY", "en")).toBe("¥680");
    expect(plain(formatMoney(1234, "BHD", "en"))).toBe("BHD 1.234");
    expect(formatMoney(0, "USD", "en")).toBe("$0.00");
    expect(formatMoney(1_000_000_000_000, "EUR", "en")).toBe("€10,000,000,000.00");
  });
});

describe("quantities", () => {
  it("shows pieces and weights", () => {
    expect(formatQuantity(2, "en")).toBe("2");
    expect(formatQuantity(0.125, "en")).toBe("0.125");
    expect(formatQuantity(1.23456, "de")).toBe("1,235");
  });
});

describe("times on the store's clock", () => {
  it("converts to the store's zone", () => {
    expect(plain(formatDateTime("2026-11-21T09:15:00.000Z", "Europe/Berlin", "en"))).toBe(
      "Nov 21, 2026, 10:15 AM GMT+1",
    );
    expect(plain(formatDateTime("2026-07-01T09:15:00.000Z", "America/New_York", "en"))).toContain("5:15 AM");
  });

  it("falls back to UTC for a zone the runtime does not know", () => {
    expect(plain(formatDateTime("2026-11-21T09:15:00.000Z", "Mars/Olympus", "en"))).toBe("Nov 21, 2026, 09:15 AM UTC");
  });
});
