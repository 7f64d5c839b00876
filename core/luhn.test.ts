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
    ["ref 0000000004111111111111111190 ok", true], // hidden in a longer run
    ["4111.1111.1111.1111", true], // split by dots
    ["4111/1111/1111/1111", true], // split by slashes
    ["378282246310005-7", true], // Amex followed by more digits
    ["00000000000000000000000000", false], // a long run of zeros: no network prefix
    ["2026/11/21 10.15", false],
    ["Espresso 2x 250", false],
    ["SKU 0000000000000", true], // 13 zeros pass Luhn: still a card-shaped number
    ["", false],
  ])("%s → %s", (text, expected) => {
    expect(containsCardNumber(text)).toBe(expected);
  });
});
