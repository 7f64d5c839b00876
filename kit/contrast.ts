/**
 * Colour math for tenant branding (WCAG 2.x). Tenants pick any colour; the page
 * must stay readable, so text colours are derived here rather than trusted.
 * Colours are `#rrggbb`.
 */

/** WCAG AA for normal text. */
export const AA_NORMAL = 4.5;

export type Rgb = readonly [number, number, number];

const HEX = /^#([0-9a-f]{6})$/i;

export function isHexColor(value: string): boolean {
  return HEX.test(value);
}

export function parseHex(hex: string): Rgb {
  const m = HEX.exec(hex);
  if (!m?.[1]) throw new RangeError(`not a #rrggbb colour: ${hex}`);
  const n = Number.parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function toHex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((c) => Math.round(c).toString(16).padStart(2, "0")).join("")}`;
}

/** sRGB channel (0–255) to linear light. */
function linear(channel: number): number {
  const c = channel / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** WCAG relative luminance: 0 for black, 1 for white. */
export function relativeLuminance(hex: string): number {
  const [r, g, b] = parseHex(hex);
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** WCAG contrast ratio, 1 to 21, symmetric in its arguments. */
export function contrastRatio(a: string, b: string): number {
  const la = relativeLuminance(a);
  const lb = relativeLuminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/**
 * Black or white, whichever reads better on `background`. One of them always
 * reaches at least √21 ≈ 4.58 against any colour, so this always passes AA.
 */
export function textOn(background: string): "#000000" | "#ffffff" {
  return contrastRatio("#000000", background) >= contrastRatio("#ffffff", background) ? "#000000" : "#ffffff";
}

function mix(from: Rgb, to: Rgb, t: number): Rgb {
  return [from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t, from[2] + (to[2] - from[2]) * t];
}

/**
 * `color` itself when it already has `min` contrast on `background`; otherwise
 * the least change towards black (or white, on a dark background) that does,
 * so a brand colour used for links or totals keeps its hue but stays legible.
 */
export function readableOn(color: string, background: string, min = AA_NORMAL): string {
  if (contrastRatio(color, background) >= min) return color;
  const target: Rgb = textOn(background) === "#000000" ? [0, 0, 0] : [255, 255, 255];
  const from = parseHex(color);
  // Contrast grows monotonically along the mix, so bisect for the smallest step.
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 20; i++) {
    const mid = (lo + hi) / 2;
    if (contrastRatio(toHex(mix(from, target, mid)), background) >= min) hi = mid;
    else lo = mid;
  }
  // Rounding to 8-bit channels can land just short: step on until it passes.
  let t = hi;
  let out = toHex(mix(from, target, t));
  while (contrastRatio(out, background) < min && t < 1) {
    t = Math.min(1, t + 0.01);
    out = toHex(mix(from, target, t));
  }
  return out;
}
