/**
 * The `/o` page (contract v1.2 "Offline receipts"): what the QR code of a
 * receipt signed offline opens. The payload stays in the fragment, so it never
 * reaches a server. The page is the same for everyone (the gateway's
 * certificate keys are pinned in it), cacheable, and a service worker keeps it
 * for use with no network. Its script checks, with WebCrypto alone, the
 * certificate, the terminal's signature and the validity, then, when the
 * network allows, asks the gateway whether the receipt was registered.
 * Kept as plain ES2020 in a string: the exact bytes the CSP hash covers.
 */
import { createHash } from "node:crypto";
import { BROWSER_OFFLINE } from "../../core/offline-browser.ts";

export const OFFLINE_SW_PATH = "/o-sw.js";

const CSS = `*{box-sizing:border-box}body{margin:0;font:17px/1.5 system-ui,sans-serif;color:#111827;background:#f3f4f6}
main{max-width:40rem;margin:0 auto;padding:1rem}h1{font-size:1.4rem;margin:.5rem 0 1rem}
section{background:#fff;border-radius:.5rem;padding:1rem;margin:0 0 1rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}ul{list-style:none;padding:0;margin:0}
li{padding:.5rem .7rem;margin:.3rem 0;border-radius:.3rem;border-left:.35rem solid #9ca3af;background:#f9fafb}
li.pass{border-left-color:#15803d;background:#dcfce7}li.fail{border-left-color:#b91c1c;background:#fee2e2}
li.wait,li.asking{border-left-color:#b45309;background:#fef3c7}.total{font-size:1.6rem;font-weight:700}a{color:#1d4ed8}`;

const SCRIPT = `(async () => {
${BROWSER_OFFLINE}
  const $ = (id) => document.getElementById(id);
  const say = (id, state, text) => { const li = $(id); li.className = state; li.dataset.result = state; li.textContent = text; };
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("${OFFLINE_SW_PATH}", { scope: "/o" }).catch(() => {});
  const printed = printedPayload(location.hash);
  if (!printed || printed.kind !== "offline") {
    document.body.dataset.state = "unreadable";
    say("cert", "fail", "This is not a Tillproof offline receipt code: nothing to check.");
    say("sig", "fail", "–"); say("valid", "fail", "–"); say("reg", "fail", "–");
    return;
  }
  const p = printed.p;
  const keys = await Promise.all(JSON.parse($("keys").textContent).map((k) => ed25519Key(bytesOfBase64(k))));
  $("store").textContent = p.t + " / " + p.s;
  $("till").textContent = p.d + ", receipt " + p.n + " made offline";
  $("when").textContent = new Date(p.a).toLocaleString() + " (" + p.a + ")";
  $("total").textContent = amountText(p.m, p.c);
  const { certificate: cert, signature: sig, inValidity: inTime } = await offlineChecks(p, keys.filter(Boolean));
  say("cert", cert ? "pass" : "fail", cert
    ? "The gateway certified this till's key (until " + new Date(p.e).toLocaleDateString() + ")."
    : "The till's certificate is NOT from this gateway: do not trust this receipt.");
  say("sig", sig ? "pass" : "fail", sig
    ? "The till signed this total, store, time and receipt number."
    : "The signature does NOT match: the amount or details were changed after the till signed them.");
  say("valid", inTime ? "pass" : "fail", inTime
    ? "It was signed while the till's certificate was valid."
    : "It was signed after the till's certificate ran out.");
  document.body.dataset.state = cert && sig && inTime ? "checked" : "failed";
  say("reg", "asking", "Asking the gateway whether it has registered this receipt…");
  const path = "/v1/verify/offline/" + [p.t, p.s, p.d, p.n].map(encodeURIComponent).join("/");
  try {
    const res = await fetch(path, { headers: { accept: "application/json" } });
    if (res.status === 404) { say("reg", "wait", "Not registered yet: the till sends it once it is back online."); return; }
    if (!res.ok) { say("reg", "wait", "The gateway could not say right now (HTTP " + res.status + "); try again later."); return; }
    const r = await res.json();
    // Exactly the receipt the till signed: its shop, till, number, time, amount and signature.
    const same = !!r.offline && r.offline.signature === p.g && r.offline.terminalSeq === p.n &&
      r.offline.signedAt === p.a && r.tenant && r.tenant.id === p.t && r.store && r.store.id === p.s &&
      r.terminalId === p.d && r.total === p.m && r.currency === p.c;
    // And kept unchanged since: the gateway's own verdict on its stored record.
    const intact = r.status === "valid";
    const after = r.voidedBy ? " It was voided afterwards (receipt " + r.voidedBy + ")."
      : r.refunds && r.refunds.length ? " Money went back on it afterwards: " + r.refunds.length + " refund(s), " +
        amountText(r.refundedTotal || 0, r.currency) + "." : "";
    const li = $("reg");
    const ok = same && intact;
    li.className = ok ? "pass" : "fail";
    li.dataset.result = ok ? "pass" : "fail";
    li.textContent = !same ? "The gateway registered something else under this number: "
      : !intact ? "The gateway registered it as receipt " + r.code + ", but says its stored record was CHANGED since (" +
        r.status + "): do not rely on it. "
      : "Registered as receipt " + r.code + (r.late ? " (it arrived late)" : "") + "." + after + " ";
    const a = document.createElement("a");
    a.href = "/r/" + encodeURIComponent(r.code);
    a.textContent = "open the registered receipt";
    li.append(a);
  } catch {
    say("reg", "wait", "No network: the checks above need none; whether it is registered can be asked later.");
  }
})();`;

const SW = `const CACHE = "tillproof-o-v1";
self.addEventListener("install", (e) => { e.waitUntil(caches.open(CACHE).then((c) => c.add("/o")).then(() => self.skipWaiting())); });
self.addEventListener("activate", (e) => { e.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== location.origin || url.pathname !== "/o") return;
  // The page first from the network (a new key or fix), the kept copy when there is none.
  e.respondWith(fetch(e.request).then((res) => {
    if (res.ok) { const copy = res.clone(); caches.open(CACHE).then((c) => c.put("/o", copy)); return res; }
    // The gateway cannot serve the page now (a 503 while its keys cannot be read): the kept one still checks.
    return caches.match("/o").then((kept) => kept || res);
  }).catch(() => caches.match("/o")));
});`;

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64");
const CSS_HASH = sha256(CSS);
const SCRIPT_HASH = sha256(SCRIPT);

/** The page, with the trusted certificate keys (raw, base64; current first) pinned in it. */
export function offlinePage(trusted: string[]): { html: string; csp: string } {
  const keys = JSON.stringify(trusted).replace(/</g, "\\u003c");
  const html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow"><title>Check an offline receipt</title><style>${CSS}</style></head>
<body data-state="checking"><main><h1>Check a receipt made offline</h1>
<section><dl><dt>Shop</dt><dd id="store">–</dd><dt>Till</dt><dd id="till">–</dd><dt>Signed</dt><dd id="when">–</dd>
<dt>Total</dt><dd class="total" id="total">–</dd></dl></section>
<section aria-live="polite"><ul><li id="cert">Checking the till's certificate…</li><li id="sig">Checking the till's signature…</li>
<li id="valid">Checking the certificate's validity…</li><li id="reg">Registration: not asked yet.</li></ul></section>
<noscript><p>This page checks the receipt in your browser and needs JavaScript.</p></noscript>
<script type="application/json" id="keys">${keys}</script><script>${SCRIPT}</script></main></body></html>`;
  const csp = [
    "default-src 'none'",
    `style-src 'sha256-${CSS_HASH}'`,
    `script-src 'sha256-${SCRIPT_HASH}'`,
    "connect-src 'self'",
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, csp };
}

export const offlineServiceWorker = (): string => SW;
