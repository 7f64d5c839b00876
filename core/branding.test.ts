import { describe, expect, it } from "vitest";
import {
  brandingInputSchema,
  DEFAULT_PRIMARY_COLOR,
  defaultBranding,
  httpsHref,
  storedBrandingSchema,
} from "./branding.ts";

const valid = { displayName: "ACME", primaryColor: "#0A7CFF" };

describe("branding input", () => {
  it("normalizes colours to lowercase and URLs to their href", () => {
    const out = brandingInputSchema.parse({
      ...valid,
      displayName: "  ACME Coffee  ",
      accentColor: "#FFD400",
      logoUrl: "HTTPS://CDN.Example.com/logo.png",
      supportUrl: "https://example.com/help?q=receipt",
      receiptFooter: "Thank you!\nSee you soon.",
    });
    expect(out).toEqual({
      displayName: "ACME Coffee",
      primaryColor: "#0a7cff",
      accentColor: "#ffd400",
      logoUrl: "https://cdn.example.com/logo.png",
      supportUrl: "https://example.com/help?q=receipt",
      receiptFooter: "Thank you!\nSee you soon.",
    });
  });

  it("counts characters, not UTF-16 units", () => {
    expect(brandingInputSchema.safeParse({ ...valid, receiptFooter: "☕️".repeat(140) }).success).toBe(true);
    expect(brandingInputSchema.safeParse({ ...valid, receiptFooter: "😀".repeat(280) }).success).toBe(true);
    expect(brandingInputSchema.safeParse({ ...valid, receiptFooter: "😀".repeat(281) }).success).toBe(false);
    expect(brandingInputSchema.safeParse({ ...valid, displayName: "x".repeat(101) }).success).toBe(false);
  });

  it.each([
    ["no displayName", { primaryColor: "#000000" }, "displayName"],
    ["empty displayName", { ...valid, displayName: "   " }, "displayName"],
    ["3-digit colour", { ...valid, primaryColor: "#fff" }, "primaryColor"],
    ["named colour", { ...valid, accentColor: "red" }, "accentColor"],
    ["CSS injection", { ...valid, primaryColor: "#000000;}body{display:none" }, "primaryColor"],
    ["http logo", { ...valid, logoUrl: "http://example.com/logo.png" }, "logoUrl"],
    ["javascript: support link", { ...valid, supportUrl: "javascript:alert(1)" }, "supportUrl"],
    ["data: logo", { ...valid, logoUrl: "data:image/png;base64,AAAA" }, "logoUrl"],
    ["credentials in a URL", { ...valid, supportUrl: "https://user:pw@example.com/" }, "supportUrl"],
    ["not a URL", { ...valid, logoUrl: "logo.png" }, "logoUrl"],
    ["URL too long", { ...valid, logoUrl: `https://example.com/${"a".repeat(2048)}` }, "logoUrl"],
    ["footer too long", { ...valid, receiptFooter: "x".repeat(281) }, "receiptFooter"],
    ["unknown field", { ...valid, fontFamily: "Comic Sans" }, ""],
    ["wrong type", { ...valid, displayName: 42 }, "displayName"],
  ])("refuses %s", (_, input, path) => {
    const parsed = brandingInputSchema.safeParse(input);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join("."))).toContain(path);
  });
});

describe("https links", () => {
  it.each([
    ["https://example.com", "https://example.com/"],
    [" https://example.com/a b ", "https://example.com/a%20b"],
    ["http://example.com", null],
    ["//example.com", null],
    ["javascript:alert(1)", null],
    ["https://", null],
  ])("%j → %j", (input, href) => {
    expect(httpsHref(input.trim())).toBe(href);
  });
});

describe("defaults and stored values", () => {
  it("gives a neutral palette and no update time", () => {
    expect(defaultBranding("ACME Retail")).toEqual({
      displayName: "ACME Retail",
      primaryColor: DEFAULT_PRIMARY_COLOR,
      updatedAt: null,
    });
  });

  it("re-validates what storage returns", () => {
    const stored = { ...valid, primaryColor: "#0a7cff", updatedAt: "2026-11-21T09:15:00.000Z" };
    expect(storedBrandingSchema.safeParse(stored).success).toBe(true);
    expect(storedBrandingSchema.safeParse({ ...stored, updatedAt: undefined }).success).toBe(false);
    expect(storedBrandingSchema.safeParse({ ...stored, logoUrl: "javascript:x" }).success).toBe(false);
  });
});
