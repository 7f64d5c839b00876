/**
 * The receipt page's look and its Content-Security-Policy. The page's one
 * stylesheet is inline and allowed by its SHA-256 hash, so the policy needs no
 * 'unsafe-inline' and admits nothing else: no scripts, fonts, frames or forms.
 *
 * The stylesheet is rendered as an escaped JSX child, so it must not contain
 * & < > " or ' (escaping would change the bytes and break the hash); the only
 * tenant input in it is the palette, which is strict #rrggbb.
 */
import { createHash } from "node:crypto";
import type { Branding } from "../../core/branding.ts";
import { DEFAULT_PRIMARY_COLOR } from "../../core/branding.ts";
import { isHexColor, readableOn, textOn } from "../../kit/contrast.ts";

/** The page's own neutral surfaces. */
const SURFACE = "#ffffff";
const BACKDROP = "#f3f4f6";

export type Palette = {
  /** The header's background, the tenant's primary colour. */
  brand: string;
  /** Black or white, whichever is legible on `brand`. */
  onBrand: string;
  /** Accent lines (the total's rule). */
  accent: string;
  /** Links: the accent darkened until it is legible on the page's surfaces. */
  link: string;
};

export function palette(branding: Pick<Branding, "primaryColor" | "accentColor">): Palette {
  // Stored values are validated, but the CSS must never see anything else.
  const brand = isHexColor(branding.primaryColor) ? branding.primaryColor.toLowerCase() : DEFAULT_PRIMARY_COLOR;
  const accent = branding.accentColor && isHexColor(branding.accentColor) ? branding.accentColor.toLowerCase() : brand;
  // The backdrop is the darker surface: legible there means legible on white too.
  return { brand, onBrand: textOn(brand), accent, link: readableOn(accent, BACKDROP) };
}

export const NEUTRAL: Palette = palette({ primaryColor: DEFAULT_PRIMARY_COLOR });

const BASE_CSS = `*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#111827;background:${BACKDROP}}
.page{max-width:34rem;margin:0 auto;background:${SURFACE}}
header.brand{display:flex;align-items:center;gap:.75rem;padding:1rem 1.25rem;background:var(--brand);color:var(--on-brand);border-bottom:1px solid rgba(0,0,0,.1)}
header.brand img{display:block;max-height:2.75rem;max-width:9rem;object-fit:contain}
.brand-name{margin:0;font-size:1.25rem;font-weight:700;line-height:1.2;overflow-wrap:anywhere}
main{padding:1.25rem}
h1,h2{line-height:1.25}
h2{font-size:1.125rem;margin:1.5rem 0 .5rem}
a{color:var(--link);text-underline-offset:.15em}
a:focus-visible,summary:focus-visible{outline:3px solid var(--link);outline-offset:2px}
.state{display:flex;gap:.75rem;align-items:flex-start;padding:1rem;border-radius:.5rem;margin:0 0 1.25rem}
.state h1{margin:0;font-size:1.375rem}
.state p{margin:.25rem 0 0}
.state .icon{flex:none;display:flex;align-items:center;justify-content:center;width:2.25rem;height:2.25rem;border-radius:50%;font-size:1.25rem;font-weight:700;line-height:1}
.state-ok{background:#f0fdf4;color:#14532d;border:2px solid #15803d}
.state-ok .icon{background:#15803d;color:#ffffff}
.state-pending{background:#f0fdf4;color:#14532d;border:2px dashed #15803d}
.state-pending .icon{background:#15803d;color:#ffffff}
.state-bad{background:#b91c1c;color:#ffffff;border:4px solid #450a0a}
.state-bad h1{font-size:2rem;font-weight:900;letter-spacing:.06em}
.state-bad .icon{width:3rem;height:3rem;background:#ffffff;color:#b91c1c;font-size:1.75rem}
.state-bad a{color:#ffffff;font-weight:700}
.altered{border:3px solid #b91c1c;border-radius:.5rem;padding:.75rem}
.altered-note{margin:0 0 .5rem;color:#991b1b;font-weight:700}
.meta{margin:0;color:#374151}
.kind{margin:1rem 0;padding:.75rem 1rem;border-radius:.5rem;background:#fffbeb;color:#78350f;border:2px solid #b45309}
.kind h2{margin:0 0 .25rem}
.kind p{margin:.25rem 0}
.kind a{color:#78350f;font-weight:700}
.store{margin:0;font-size:1.125rem;font-weight:600}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:0 0 .25rem}
th,td{padding:.5rem 0;text-align:left;vertical-align:top;border-bottom:1px solid #e5e7eb;overflow-wrap:anywhere}
th{font-weight:600}
.num{text-align:right;white-space:nowrap;padding-left:1rem;overflow-wrap:normal}
.sub{display:block;color:#4b5563;font-size:.875rem}
.total th,.total td{border-bottom:0;border-top:3px solid var(--accent);font-size:1.25rem;font-weight:700;padding-top:.75rem}
.payments{list-style:none;margin:0;padding:0}
.payments li{display:flex;justify-content:space-between;gap:1rem;padding:.25rem 0}
.qr{margin:1.5rem 0 0;text-align:center}
.qr svg{display:block;width:10rem;height:10rem;margin:0 auto;shape-rendering:crispEdges}
.qr figcaption{margin-top:.5rem;color:#374151;font-size:.875rem}
.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:.04em;white-space:nowrap}
details{margin-top:1.5rem;border:1px solid #d1d5db;border-radius:.5rem;padding:.75rem 1rem}
summary{cursor:pointer;font-weight:600}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem;margin:.75rem 0 0}
dt{color:#374151}
dd{margin:0;overflow-wrap:anywhere;min-width:0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.875em}
footer{padding:1.25rem;color:#374151;font-size:.875rem;text-align:center;background:${BACKDROP}}
footer p{margin:.25rem 0}
.footer-text{white-space:pre-line;overflow-wrap:anywhere;color:#111827;font-size:1rem}
.error h1{margin-top:0;font-size:1.5rem}
.log-check{margin:0 0 1.25rem;padding:.75rem 1rem;border-radius:.5rem;border:2px solid #d1d5db;background:#f9fafb}
.log-check p{margin:0}
.log-check details{margin-top:.5rem;border:0;padding:0}
.log-check pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.8125rem;margin:.5rem 0}
.log-check code{word-break:break-all}
.log-ok{border-color:#15803d;background:#f0fdf4;color:#14532d}
.log-unsupported,.log-unfinished{border-color:#6b7280}
.log-failed{border:4px solid #b91c1c;background:#fef2f2;color:#7f1d1d;font-weight:700}
@media (min-width:36rem){body{padding:2rem 1rem}.page{border-radius:.75rem;overflow:hidden;box-shadow:0 1px 4px rgba(0,0,0,.12)}}`;

export function pageCss(p: Palette): string {
  const css = `:root{--brand:${p.brand};--on-brand:${p.onBrand};--accent:${p.accent};--link:${p.link}}\n${BASE_CSS}`;
  if (/[&<>"']/.test(css)) throw new Error("page CSS must not contain characters that HTML escaping would change");
  return css;
}

/**
 * The policy for a page whose one stylesheet is `css`. A page with a script
 * loads it from this origin (one cached file for every receipt, its integrity
 * pinned in the tag) and may ask this origin for proofs.
 */
export function contentSecurityPolicy(css: string, scripted = false): string {
  const hash = createHash("sha256").update(css).digest("base64");
  return [
    "default-src 'none'",
    "img-src https: data:",
    `style-src 'sha256-${hash}'`,
    ...(scripted ? ["script-src 'self'", "connect-src 'self'"] : []),
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}
