/**
 * The monitor's checks (monitor.ts: signed note, cosignatures, inclusion,
 * consistency) as plain ES2020 source for pages: the receipt page and the
 * independent verifier paste it into their one inline script, allowed by
 * the CSP through that script's hash. WebCrypto alone; every function is
 * tested against the TypeScript library in browser.test.ts.
 *
 * Defines: sha, hex, unhex, unb64, keyOf(vkey, type), checkpointOf(note),
 * signedBy(note, key), cosignedBy(note, key), inclusionOk(hashHex, index,
 * size, proof, root), consistencyOk(from, to, proof, oldRoot, newRoot),
 * checkpointCheck(note, pins, origin), keptTree(slot), keepTree(slot, cp).
 */
export const BROWSER_TLOG = `
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
const nodeOf = (l, r) => sha(new Uint8Array([1]), l, r);
const same = (a, b) => hex(a) === hex(b);
// A signed-note verifier key of signature type 1 (Ed25519) or 4 (a C2SP cosigner); throws if it is not one.
const keyOf = async (vkey, type) => {
  const m = /^([^+\\s]+)\\+([0-9a-f]{8})\\+([A-Za-z0-9+/=]+)$/.exec(vkey.trim());
  if (!m) throw new Error("not a verifier key: " + vkey);
  const raw = unb64(m[3]);
  if (raw.length !== 33 || raw[0] !== type) throw new Error("not a key of type " + type + ": " + vkey);
  if (hex((await sha(enc.encode(m[1] + "\\n"), raw)).slice(0, 4)) !== m[2]) throw new Error("key ID mismatch: " + vkey);
  let key;
  try {
    key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  } catch {
    const e = new Error("this browser cannot check Ed25519 signatures");
    e.unsupported = true;
    throw e;
  }
  return { name: m[1], id: m[2], key };
};
const splitNote = (note) => {
  const at = note.lastIndexOf("\\n\\n");
  if (at < 0 || !note.endsWith("\\n")) return null;
  const sigs = [];
  for (const line of note.slice(at + 2, -1).split("\\n")) {
    const m = /^\\u2014 (\\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) return null;
    sigs.push({ name: m[1], raw: unb64(m[2]) });
  }
  return { text: note.slice(0, at + 1), sigs };
};
const checkpointOf = (note) => {
  const parts = splitNote(note);
  const lines = parts ? parts.text.split("\\n") : [];
  if (lines.length < 4 || !/^[0-9]+$/.test(lines[1])) return null;
  return { origin: lines[0], size: Number(lines[1]), root: unb64(lines[2]) };
};
const signedBy = async (note, k) => {
  const parts = splitNote(note);
  if (!parts) return false;
  for (const s of parts.sigs) {
    if (s.name !== k.name || s.raw.length !== 68 || hex(s.raw.slice(0, 4)) !== k.id) continue;
    if (await crypto.subtle.verify({ name: "Ed25519" }, k.key, s.raw.slice(4), enc.encode(parts.text))) return true;
  }
  return false;
};
const cosignedBy = async (note, k) => {
  const parts = splitNote(note);
  if (!parts) return false;
  for (const s of parts.sigs) {
    if (s.name !== k.name || s.raw.length !== 76 || hex(s.raw.slice(0, 4)) !== k.id) continue;
    const time = new DataView(s.raw.buffer, s.raw.byteOffset + 4, 8).getBigUint64(0);
    const msg = enc.encode("cosignature/v1\\ntime " + time + "\\n" + parts.text);
    if (await crypto.subtle.verify({ name: "Ed25519" }, k.key, s.raw.slice(12), msg)) return true;
  }
  return false;
};
// RFC 9162 2.1.3.2; the leaf is the entry's 32-byte hash.
const inclusionOk = async (hashHex, index, size, proof, root) => {
  if (!(Number.isInteger(index) && index >= 0 && index < size)) return false;
  let fn = index, sn = size - 1;
  let r = await sha(new Uint8Array([0]), unhex(hashHex));
  for (const p of proof.map(unhex)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeOf(p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeOf(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && same(r, root);
};
// RFC 9162 2.1.4.2.
const consistencyOk = async (from, to, proof, oldRoot, newRoot) => {
  const hashes = proof.map(unhex);
  if (from === to) return hashes.length === 0 && same(oldRoot, newRoot);
  if (!(from > 0 && from < to) || hashes.length === 0) return false;
  const path = (from & (from - 1)) === 0 ? [oldRoot, ...hashes] : hashes;
  let fn = from - 1, sn = to - 1;
  while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeOf(c, fr); sr = await nodeOf(c, sr);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      sr = await nodeOf(sr, c);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  return sn === 0 && same(fr, oldRoot) && same(sr, newRoot);
};
// The largest tree of a log this browser kept ({ size, root hex }), or null; storage that is
// unreadable or not in that shape (private mode, a hand edit) counts as none, never as a fork.
const keptTree = (slot) => {
  try {
    const kept = JSON.parse(localStorage.getItem(slot) || "null");
    return kept && Number.isInteger(kept.size) && kept.size > 0 && /^[0-9a-f]{64}$/.test(kept.root) ? kept : null;
  } catch {
    return null;
  }
};
const keepTree = (slot, cp) => {
  try { localStorage.setItem(slot, JSON.stringify({ size: cp.size, root: hex(cp.root) })); } catch { /* no storage */ }
};
// The checkpoint if the pinned log key signed it for exactly this origin and the quorum of pinned
// witnesses cosigned it; throws saying which check failed. pins: { log: key, witnesses: [key], quorum }.
const checkpointCheck = async (note, pins, origin) => {
  const cp = checkpointOf(note);
  if (!cp || !(await signedBy(note, pins.log))) throw new Error("the checkpoint is not signed by the log's key");
  if (cp.origin !== origin) throw new Error("the checkpoint is another log's (" + cp.origin + ")");
  // Each witness once, however often the pins list it: a quorum counts witnesses, not lines.
  let cosigned = 0;
  const seen = new Set();
  for (const w of pins.witnesses) {
    if (seen.has(w.name + "+" + w.id)) continue;
    seen.add(w.name + "+" + w.id);
    if (await cosignedBy(note, w)) cosigned++;
  }
  if (cosigned < pins.quorum) {
    throw new Error("the checkpoint is cosigned by " + cosigned + " of the witnesses, fewer than the " + pins.quorum + " required");
  }
  return { ...cp, cosigned };
};
`;
