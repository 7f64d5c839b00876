import { encode } from "uqr";
import { describe, expect, it } from "vitest";
import { qrSvg } from "./qr-svg.ts";

/** Paints the path back into modules: each segment a horizontal run on its row. */
function modules(svg: string, border: number): boolean[][] {
  const size = Number(/viewBox="0 0 (\d+)/.exec(svg)?.[1]) - border * 2;
  const grid = Array.from({ length: size }, () => Array<boolean>(size).fill(false));
  const d = /<path stroke="#000" d="([^"]*)"/.exec(svg)?.[1] ?? "";
  let x = 0;
  let y = 0;
  for (const [, op, a, b] of d.matchAll(/([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?/g)) {
    if (op === "M") [x, y] = [Number(a), Number(b)];
    else if (op === "m") x += Number(a);
    else {
      for (let i = 0; i < Number(a); i++) (grid[y - border - 0.5] as boolean[])[x - border + i] = true;
      x += Number(a);
    }
  }
  return grid;
}

describe("qrSvg", () => {
  it("draws exactly uqr's modules, far smaller than a square per module", () => {
    const text = `https://receipts.example.com/r/0K3F-7Q2M-9WXD-4B8R-TC1N#${"eyJ2IjoxLC".repeat(34)}`;
    const svg = qrSvg(text);
    expect(modules(svg, 2)).toEqual(encode(text, { ecc: "L" }).data);
    expect(svg.length).toBeLessThan(12_000);
  });
});
