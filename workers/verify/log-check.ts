/**
 * The receipt page's one script: the customer's own browser checks, with
 * WebCrypto alone, that the record shown hashes to its hash, that the hash is
 * the leaf at its index of a tree whose root the log's key signed (RFC 9162
 * inclusion, C2SP signed-note). It reads its inputs from a JSON block on the
 * page and is allowed by the CSP through its SHA-256 hash. Kept as plain
 * ES2020 in a string: it is the exact bytes the hash covers.
 */
import { createHash } from "node:crypto";

export const LOG_CHECK_SCRIPT = `(async () => {
  const box = document.getElementById("log-check");
  const data = JSON.parse(document.getElementById("log-proof").textContent);
  const say = (state, text) => {
    box.className = "log-check log-" + state;
    box.querySelector("[data-message]").textContent = text;
    box.dataset.result = state;
  };
  const enc = new TextEncoder();
  const cat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const sha = async (...parts) => new Uint8Array(await crypto.subtle.digest("SHA-256", cat(...parts)));
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const unhex = (h) => new Uint8Array((h.match(/../g) || []).map((x) => parseInt(x, 16)));
  const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const node = (l, r) => sha(new Uint8Array([1]), l, r);
  // The code names its shard and log entry (its layout by its length): the proof must be for exactly those.
  const route = (code) => {
    const wide = code.length === 20;
    let v = 0n;
    for (const ch of code) v = v * 32n + BigInt("0123456789ABCDEFGHJKMNPQRSTVWXYZ".indexOf(ch));
    const payload = v >> 40n;
    const counterBits = wide ? 47n : 30n;
    return { shard: Number(payload >> counterBits), counter: Number(payload & ((1n << counterBits) - 1n)) };
  };
  if (!(globalThis.crypto && crypto.subtle)) {
    say("unsupported", "Your browser cannot check signatures itself; the server's answer above stands.");
    return;
  }
  try {
    say("checking", "Checking in your browser…");
    // The code is the one in this page's address (what the customer scanned or typed), not the server's word.
    const typed = decodeURIComponent(location.pathname.slice(location.pathname.lastIndexOf("/") + 1))
      .replace(/[-\\s]/g, "").toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");
    if (JSON.parse(data.record).code !== typed) throw new Error("the record shown is for another code");
    const own = route(typed);
    if (own.shard !== data.shard || own.counter !== data.leafIndex + 1) throw new Error("the proof is for another receipt");
    if (hex(await sha(enc.encode(data.record))) !== data.hash) throw new Error("the record does not hash to its hash");
    const vkey = data.verifierKey.match(/^([^+]+)\\+([0-9a-f]{8})\\+(.+)$/);
    if (!vkey) throw new Error("bad verifier key");
    const raw = unb64(vkey[3]);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("not an Ed25519 key");
    const keyId = (await sha(enc.encode(vkey[1] + "\\n"), raw)).slice(0, 4);
    if (hex(keyId) !== vkey[2]) throw new Error("key id mismatch");
    let key;
    try {
      key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    } catch {
      say("unsupported", "Your browser cannot check Ed25519 signatures itself; the server's answer above stands.");
      return;
    }
    const note = data.checkpoint;
    const split = note.lastIndexOf("\\n\\n");
    const text = note.slice(0, split + 1);
    let signed = false;
    for (const line of note.slice(split + 2).split("\\n")) {
      const m = line.match(/^\\u2014 (\\S+) ([A-Za-z0-9+/=]+)$/);
      if (!m || m[1] !== vkey[1]) continue;
      const sig = unb64(m[2]);
      if (sig.length !== 68 || hex(sig.slice(0, 4)) !== vkey[2]) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), enc.encode(text))) signed = true;
    }
    if (!signed) throw new Error("the checkpoint's signature does not verify");
    const [origin, sizeLine, rootLine] = text.split("\\n");
    // Exactly this deployment's origin for this shard: a suffix match would take another log's checkpoint.
    if (origin !== data.logOrigin + "/" + data.shard) throw new Error("the checkpoint is another log's or another shard's");
    if (Number(sizeLine) !== data.treeSize) throw new Error("the proof is for another tree size");
    if (!(Number.isInteger(data.leafIndex) && data.leafIndex >= 0 && data.leafIndex < data.treeSize)) {
      throw new Error("the entry is not within the signed tree");
    }
    let fn = data.leafIndex, sn = data.treeSize - 1;
    let r = await sha(new Uint8Array([0]), unhex(data.hash));
    for (const p of data.inclusion.map(unhex)) {
      if (sn === 0) throw new Error("proof too long");
      if (fn % 2 === 1 || fn === sn) {
        r = await node(p, r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await node(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0 || hex(r) !== hex(unb64(rootLine))) throw new Error("the receipt is not in the signed tree");
    say("ok", "Checked by your browser against the signed log (" + origin + ", entry " + (data.leafIndex + 1) + " of " + data.treeSize + ").");
  } catch (e) {
    say("failed", "Your browser could NOT confirm this receipt against the signed log: " + (e && e.message ? e.message : e) + ".");
  }
})();`;

export const LOG_CHECK_SCRIPT_HASH = createHash("sha256").update(LOG_CHECK_SCRIPT).digest("base64");
