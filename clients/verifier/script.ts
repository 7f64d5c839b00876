/**
 * The independent verifier's one script (plain ES2020 text; the page's CSP
 * allows it by hash). It trusts only the pins in the page: it asks the
 * deployment for a receipt and checks, in this order, that the record hashes
 * to its hash, that the proof is for the code's own shard and entry, that the
 * checkpoint is signed by the pinned log key for exactly that shard's origin
 * and cosigned by the quorum of pinned witnesses, that the hash is the leaf
 * at its index of that tree, and that the tree extends the largest one of the
 * shard this browser saw before (kept in localStorage).
 */
import { BROWSER_TLOG } from "../../tlog/browser.ts";

export const VERIFIER_SCRIPT = `(async () => {
${BROWSER_TLOG}
const PINS = JSON.parse(document.getElementById("pins").textContent);
const form = document.getElementById("check");
const list = document.getElementById("steps");
const verdict = document.getElementById("verdict");
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
// A code as printed, typed or in a receipt URL (…/r/<code>, with or without #signed payload).
const codeFrom = (input) => {
  let s = input.trim();
  if (/^https?:\\/\\//i.test(s)) s = decodeURIComponent(new URL(s).pathname.split("/").filter(Boolean).pop() || "");
  return s.replace(/[-\\s]/g, "").toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");
};
// The shard and log entry a code names (16 characters: 30-bit counter; 20: 47-bit).
const route = (code) => {
  let v = 0n;
  for (const ch of code) v = v * 32n + BigInt(ALPHABET.indexOf(ch));
  const payload = v >> 40n;
  const bits = code.length === 20 ? 47n : 30n;
  return { shard: Number(payload >> bits), counter: Number(payload & ((1n << bits) - 1n)) };
};
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
const getJson = async (path) => {
  const res = await fetch(PINS.url + path, { headers: { accept: "application/json" } });
  return { status: res.status, body: await res.json().catch(() => null) };
};
const check = async (input) => {
  list.textContent = "";
  show("checking", "Checking\\u2026");
  const code = codeFrom(input);
  if (!/^[0-9A-HJKMNP-TV-Z]{16}([0-9A-HJKMNP-TV-Z]{4})?$/.test(code)) step(false, "not a receipt code: " + input);
  const keys = await pinned();
  const got = await getJson("/v1/verify/" + code);
  if (got.status !== 200) step(false, "the service does not know this receipt (HTTP " + got.status + ")");
  const a = got.body;
  step(a.status === "valid", "the service says " + a.status);
  let hashed = false;
  for (const r of records(a)) if (hex(await sha(enc.encode(canon(r)))) === a.hash) hashed = true;
  step(hashed, "the receipt shown (" + a.currency + " " + (a.total / 100).toFixed(2) + ", " + a.items.length + " item(s)) hashes to " + a.hash.slice(0, 16) + "\\u2026");
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
  check(form.elements.code.value).catch((err) => show(err.unsupported ? "unsupported" : "failed",
    (err.unsupported ? "" : "NOT verified: ") + err.message));
});
const start = new URLSearchParams(location.search).get("code") || decodeURIComponent(location.hash.slice(1));
if (start) { form.elements.code.value = start; form.requestSubmit(); }
form.dataset.ready = "1";
})();`;
