/**
 * The independent verifier's one script (plain ES2020 text; the page's CSP
 * allows it by hash). It trusts only the pins in the page: it asks the
 * deployment for a receipt and checks, in this order, that the record hashes
 * to its hash, that the proof is for the code's own shard and entry, that the
 * checkpoint is signed by the pinned log key for exactly that shard's origin
 * and cosigned by the quorum of pinned witnesses, that the hash is the leaf
 * at its index of that tree, and that the tree extends the largest one of the
 * shard this browser saw before (kept in localStorage).
 *
 * A printed QR code carries more: a receipt link's `#…` is the gateway's
 * signature over code, time, amount and hash, and an offline receipt's
 * `/o#…` the till's signature and the gateway's certificate of the till's
 * key. Both are checked with the pinned certificate keys before anything is
 * asked; the record the service answers must then be the one signed.
 */

import { BROWSER_CODE_ROUTE } from "../../core/code.ts";
import { BROWSER_OFFLINE } from "../../core/offline-browser.ts";
import { BROWSER_TLOG } from "../../tlog/browser.ts";

export const VERIFIER_SCRIPT = `(async () => {
${BROWSER_TLOG}
${BROWSER_OFFLINE}
const PINS = JSON.parse(document.getElementById("pins").textContent);
const form = document.getElementById("check");
const list = document.getElementById("steps");
const verdict = document.getElementById("verdict");
// A code as printed, typed or in a receipt URL (…/r/<code>, with or without #signed payload).
const codeFrom = (input) => {
  let s = input.trim();
  if (/^https?:\\/\\//i.test(s)) s = decodeURIComponent(new URL(s).pathname.split("/").filter(Boolean).pop() || "");
  return s.replace(/[-\\s]/g, "").toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");
};
${BROWSER_CODE_ROUTE}
// RFC 8785 for what a record holds (strings, integers, arrays, objects).
const canon = (v) => Array.isArray(v) ? "[" + v.map(canon).join(",") + "]"
  : v !== null && typeof v === "object"
    ? "{" + Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}"
    : JSON.stringify(v);
const compact = (c) => c === null || c === undefined ? undefined : c.replace(/-/g, "");
// The record the hash covers, rebuilt from the answer. A sale issued before v1.2 has no "kind".
const records = (a) => {
  const r = { v: 1, code: compact(a.code), tenantId: a.tenant.id, storeId: a.store.id, terminalId: a.terminalId,
    seq: a.seq, issuedAt: a.issuedAt, receivedAt: a.receivedAt, currency: a.currency, total: a.total,
    items: a.items, payments: a.payments, cashier: a.cashier, kind: a.kind, refersTo: compact(a.refersTo),
    reason: a.reason, offline: a.offline, late: a.late, prevHash: a.prevHash };
  return a.kind === "sale" ? [r, { ...r, kind: undefined }] : [r];
};
const step = (ok, text) => {
  const li = document.createElement("li");
  li.className = ok ? "ok" : "fail";
  li.textContent = (ok ? "\\u2713 " : "\\u2717 ") + text;
  list.appendChild(li);
  if (!ok) throw new Error(text);
};
const show = (state, text) => { verdict.className = state; verdict.textContent = text; document.body.dataset.result = state; };
let pins;
const pinned = async () => pins || (pins = {
  log: await keyOf(PINS.log.vkey, 1),
  witnesses: await Promise.all(PINS.witnesses.map((w) => keyOf(w.vkey, 4))),
  quorum: PINS.quorum,
});
// The pinned certificate keys (they sign printed QR codes and till certificates).
const certKeys = async () => {
  if (!PINS.certKeys.length) step(false, "this verifier pins no certificate key, so it cannot check signed QR codes");
  return (await Promise.all(PINS.certKeys.map((k) => keyOf(k, 1)))).map((k) => k.key);
};
// A check that could not be made (no network, a busy or rate-limited service): neither verified nor failed.
const unfinished = (text) => {
  const e = new Error(text);
  e.unfinished = true;
  throw e;
};
const busy = (status) => status === 429 || status >= 500;
const getJson = async (path) => {
  const res = await fetch(PINS.url + path, { headers: { accept: "application/json" } })
    .catch(() => unfinished("the service did not answer (no network?): try again"));
  return { status: res.status, body: await res.json().catch(() => null) };
};
// An offline receipt's QR: the certificate, the till's signature and the validity need no network;
// then the receipt the gateway registered under the till's number must carry that signature.
const offlineCheck = async (p) => {
  step(true, "an offline receipt: " + p.t + " / " + p.s + ", till " + p.d + ", its receipt " + p.n + ", " + amountText(p.m, p.c));
  const c = await offlineChecks(p, await certKeys());
  step(c.certificate, "the gateway's pinned certificate key certified this till's key until " + p.e);
  step(c.signature, "the till signed this total, store, time and receipt number");
  step(c.inValidity, "it was signed (" + p.a + ") while the till's certificate was valid");
  const got = await getJson("/v1/verify/offline/" + [p.t, p.s, p.d, p.n].map(encodeURIComponent).join("/"));
  if (got.status === 404) {
    show("signed", "Signed by a certified till, not registered yet: the till sends it once it is back online. Check again later.");
    return null;
  }
  if (got.status !== 200) unfinished("the service could not say whether it registered this receipt (HTTP " + got.status + "): try again");
  const a = got.body;
  step(!!a.offline && a.offline.signature === p.g && a.offline.terminalSeq === p.n && a.offline.signedAt === p.a &&
    a.tenant.id === p.t && a.store.id === p.s && a.terminalId === p.d && a.total === p.m && a.currency === p.c,
    "the service registered exactly this signed receipt (its shop, till, number, time, amount and signature) as " + a.code + (a.late ? " (it arrived late)" : ""));
  return a;
};
// A receipt link's QR: the gateway signed its code, time, amount and hash.
const qrCheck = async (p) => step(await qrSigned(p, await certKeys()),
  "the gateway's pinned key signed this QR code: " + p.c + ", " + amountText(p.m, p.y) + ", received " + p.r);
const check = async (input) => {
  list.textContent = "";
  show("checking", "Checking\\u2026");
  const qr = input.includes("#") ? printedPayload(input) : null;
  const keys = await pinned();
  if (qr && qr.kind === "offline") {
    const registered = await offlineCheck(qr.p);
    return registered && logCheck(codeFrom(registered.code), keys, registered);
  }
  if (qr) await qrCheck(qr.p);
  const code = codeFrom(qr ? qr.p.c : input);
  if (!/^[0-9A-HJKMNP-TV-Z]{16}([0-9A-HJKMNP-TV-Z]{4})?$/.test(code)) step(false, "not a receipt code: " + input);
  if (qr && /^https?:/i.test(input.trim()) && codeFrom(input.slice(0, input.indexOf("#"))) !== code)
    step(false, "the link names another receipt than its signed QR code");
  const got = await getJson("/v1/verify/" + code);
  if (busy(got.status)) unfinished("the service could not answer now (HTTP " + got.status + "): try again");
  if (got.status !== 200) step(false, "the service does not know this receipt (HTTP " + got.status + ")");
  const a = got.body;
  if (qr) step(compact(a.code) === code && a.receivedAt === qr.p.r && a.currency === qr.p.y && a.total === qr.p.m && a.hash === qr.p.h,
    "the service's record is the one the QR code signed (code, time, amount and hash)");
  return logCheck(code, keys, a);
};
// That the answer is a valid record in the pinned, witnessed log, and extends what this browser saw.
const logCheck = async (code, keys, a) => {
  step(compact(a.code) === code, "the service answered for this code (" + a.code + ")");
  step(a.status === "valid", "the service says " + a.status);
  let hashed = false;
  for (const r of records(a)) if (hex(await sha(enc.encode(canon(r)))) === a.hash) hashed = true;
  step(hashed, "the receipt shown (" + amountText(a.total, a.currency) + ", " + a.items.length + " item(s)) hashes to " + a.hash.slice(0, 16) + "\\u2026");
  const p = a.proof;
  step(!!p && a.witnessed, p ? "a witnessed checkpoint covers it" : "no witnessed checkpoint covers it yet: try again in a minute");
  const own = route(code);
  step(own.shard === p.shard && own.counter === p.leafIndex + 1, "the proof is for this code's own log (shard " + own.shard + ", entry " + own.counter + ")");
  const origin = PINS.log.origin + "/" + p.shard;
  const cp = await checkpointCheck(p.checkpoint, keys, origin).catch((e) => step(false, e.message));
  step(true, "the checkpoint is signed by the pinned log key for " + origin);
  step(true, "cosigned by " + cp.cosigned + " pinned witness(es); " + keys.quorum + " required");
  step(cp.size === p.treeSize && await inclusionOk(a.hash, p.leafIndex, cp.size, p.inclusion, cp.root),
    "the receipt is entry " + (p.leafIndex + 1) + " of that tree of " + cp.size);
  const slot = "tillproof-verifier:" + origin;
  const kept = keptTree(slot);
  if (kept && kept.size !== cp.size) {
    const [from, to, oldRoot, newRoot] = kept.size < cp.size ? [kept.size, cp.size, unhex(kept.root), cp.root] : [cp.size, kept.size, cp.root, unhex(kept.root)];
    const c = await getJson("/v1/log/" + p.shard + "/proof/consistency?from=" + from + "&to=" + to);
    if (busy(c.status)) unfinished("the log could not say how this tree follows the one this browser saw before (HTTP " + c.status + "): try again");
    step(c.status === 200 && await consistencyOk(from, to, c.body.consistency, oldRoot, newRoot),
      "the tree of " + to + " extends the one of " + from + " (this browser saw " + kept.size + " before)");
  } else {
    step(!kept || kept.root === hex(cp.root), kept ? "the same tree of " + cp.size + " this browser saw before" : "first checkpoint of this log this browser keeps");
  }
  if (!kept || kept.size < cp.size) keepTree(slot, cp);
  show("ok", "Verified: receipt " + a.code + " is in the witnessed log of " + PINS.log.origin);
};
form.addEventListener("submit", (e) => {
  e.preventDefault();
  check(form.elements.code.value).catch((err) => show(err.unsupported ? "unsupported" : err.unfinished ? "unfinished" : "failed",
    (err.unsupported ? "" : err.unfinished ? "Not checked yet: " : "NOT verified: ") + err.message));
});
const start = new URLSearchParams(location.search).get("code") || decodeURIComponent(location.hash.slice(1));
if (start) { form.elements.code.value = start; form.requestSubmit(); }
form.dataset.ready = "1";
})();`;
