import { describe, expect, it } from "vitest";
import {
  AA_NORMAL,
  contrastRatio,
  isHexColor,
  parseHex,
  readableOn,
  relativeLuminance,
  textOn,
  toHex,
} from "./contrast.ts";

describe("colour parsing", () => {
  it("round-trips #rrggbb", () => {
    expect(parseHex("#0a7cff")).toEqual([10, 124, 255]);
    expect(parseHex("#0A7CFF")).toEqual([10, 124, 255]);
    expect(toHex([10, 124, 255])).toBe("#0a7cff");
  });

  it.each(["#fff", "0a7cff", "#0a7cfg", "#0a7cff0", "red", ""])("refuses %j", (bad) => {
    expect(isHexColor(bad)).toBe(false);
    expect(() => parseHex(bad)).toThrow(RangeError);
  });
});

describe("WCAG luminance and contrast", () => {
  it("matches the reference values", () => {
    expect(relativeLuminance("#000000")).toBe(0);
    expect(relativeLuminance("#ffffff")).toBeCloseTo(1, 10);
    expect(relativeLuminance("#808080")).toBeCloseTo(0.2159, 4);
    expect(contrastRatio("#000000", "#ffffff")).toBeCloseTo(21, 10);
    expect(contrastRatio("#ffffff", "#ffffff")).toBe(1);
    // Well-known pairs (WebAIM contrast checker).
    expect(contrastRatio("#767676", "#ffffff")).toBeCloseTo(4.54, 2);
    expect(contrastRatio("#777777", "#ffffff")).toBeCloseTo(4.48, 2);
    expect(contrastRatio("#0000ff", "#ffffff")).toBeCloseTo(8.59, 2);
    expect(contrastRatio("#ff0000", "#ffffff")).toBeCloseTo(4.0, 2);
  });

  it("is symmetric", () => {
    expect(contrastRatio("#0a7cff", "#1f2937")).toBe(contrastRatio("#1f2937", "#0a7cff"));
  });
});

describe("text on a brand colour", () => {
  it.each([
    ["#000000", "#ffffff"],
    ["#1f2937", "#ffffff"],
    ["#0a7cff", "#000000"],
    ["#ffffff", "#000000"],
    ["#ffd400", "#000000"],
    ["#b91c1c", "#ffffff"],
  ])("on %s uses %s", (bg, fg) => {
    expect(textOn(bg)).toBe(fg);
  });

  it("always reaches AA, on every grey and a sweep of hues", () => {
    for (let v = 0; v < 256; v += 5) {
      const grey = toHex([v, v, v]);
      expect(contrastRatio(textOn(grey), grey)).toBeGreaterThanOrEqual(AA_NORMAL);
    }
    for (let r = 0; r < 256; r += 51)
      for (let g = 0; g < 256; g += 51)
        for (let b = 0; b < 256; b += 51) {
          const bg = toHex([r, g, b]);
          expect(contrastRatio(textOn(bg), bg)).toBeGreaterThanOrEqual(AA_NORMAL);
        }
  });
});

describe("a brand colour as text", () => {
  it("keeps a colour that already passes", () => {
    expect(readableOn("#1f2937", "#ffffff")).toBe("#1f2937");
  });

  it("darkens a light colour on white just enough", () => {
    const out = readableOn("#0a7cff", "#ffffff");
    expect(out).not.toBe("#0a7cff");
    expect(contrastRatio(out, "#ffffff")).toBeGreaterThanOrEqual(AA_NORMAL);
    expect(contrastRatio(out, "#ffffff")).toBeLessThan(5); // not all the way to black
    const [r, g, b] = parseHex(out);
    expect(b).toBeGreaterThan(r); // still blue
    expect(b).toBeGreaterThan(g);
  });

  it("lightens a dark colour on a dark background", () => {
    const out = readableOn("#1e3a8a", "#111827");
    expect(contrastRatio(out, "#111827")).toBeGreaterThanOrEqual(AA_NORMAL);
  });

  it("passes for every colour of a sweep, on white", () => {
    for (let r = 0; r < 256; r += 51)
      for (let g = 0; g < 256; g += 51)
        for (let b = 0; b < 256; b += 51) {
          expect(contrastRatio(readableOn(toHex([r, g, b]), "#ffffff"), "#ffffff")).toBeGreaterThanOrEqual(AA_NORMAL);
        }
  });
});
