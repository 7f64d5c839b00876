import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { containsCardNumber, luhnValid } from "./luhn.ts";

describe("Luhn and card detection", () => {
  it("validates the Luhn checksum", () => {
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(luhnValid("4111111111111112")).toBe(false);
    expect(luhnValid("79927398713")).toBe(true);
  });

  it.each([
    ["4111111111111111", true],
    ["card 4111 1111 1111 1111 thanks", true],
    ["5500-0000-0000-0004", true],
    ["378282246310005", true], // Amex, 15 digits
    ["6011111111111117", true],
    ["4111111111111112", false], // fails Luhn
    ["411111111111", false], // 12 digits
    ["41111111111111111111", true], // a Visa number inside 20 digits
    ["ref 00004111111111111111 ok", true], // glued to other digits in a longer run
    ["41111111111111110000", true], // and at its start
    ["4111.1111.1111.1111", true], // split by dots
    ["4111/1111/1111/1111", true], // split by slashes
    ["3782/822463/10005", true], // Amex in its printed groups
    ["00000000000000000000000000", false], // a long run of zeros: no network prefix
    ["2026/11/21 10.15", false],
    ["21.11.2026 10.15.33", false], // a date and a time with dots
    ["Espresso 2.50 Tea 3.10 Cake 4.20", false], // prices with dots
    ["Espresso 2x 250", false],
    ["SKU 0000000000000", true], // 13 zeros pass Luhn: still a card-shaped number
    ["", false],
    // A card with 1–3 more digits: its CVV, expiry, a digit before it (runs of 14–19 digits).
    ["4111 1111 1111 1111 123", true],
    ["4111 1111 1111 1111 12 28 123", true],
    ["4111111111111111 1228 123", true],
    ["3782 822463 10005 1234", true], // Amex + 4 digits
    ["9 4111 1111 1111 1111", true],
    ["5500000000000004 7", true],
    // Other spellings of the same digits and separators.
    ["\u0664\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661", true], // Arabic-Indic
    ["\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11", true], // fullwidth
    ["\u096a\u0967\u0967\u0967 \u0967\u0967\u0967\u0967 \u0967\u0967\u0967\u0967 \u0967\u0967\u0967\u0967", true], // Devanagari
    ["4111\u200b1111\u200b1111\u200b1111", true], // zero-width spaces
    ["4111\u20101111\u20101111\u20101111", true], // U+2010 hyphens
    ["4111\u00a01111\u20131111\u20031111", true], // no-break space, en dash, em space
    ["\u0661\u0662\u0663", false],
  ])("%s → %s", (text, expected) => {
    expect(containsCardNumber(text)).toBe(expected);
  });

  it("seldom mistakes a long product number for a card (under 5 % of random 20–30-digit runs)", () => {
    // Deterministic digits from SHA-256, so the figure does not move between runs.
    let counter = 0;
    const digit = () => String(createHash("sha256").update(String(counter++)).digest()[0]! % 10);
    let flagged = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const run = Array.from({ length: 20 + (i % 11) }, digit).join("");
      if (containsCardNumber(run)) flagged++;
    }
    expect(flagged / n).toBeLessThan(0.05);
  });
});
