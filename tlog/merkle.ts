/**
 * RFC 6962 / RFC 9162 §2.1 Merkle trees, pure and synchronous.
 *
 * Proofs are described as lists of ranges of leaves [start, end); each range's
 * hash is MTH(D[start:end]). `perfectNodes` breaks a range into the perfect,
 * aligned subtrees a tile store holds, so callers fetch the nodes they need
 * (from tiles, possibly async) and `foldRange` combines them. The log itself
 * only ever needs its right edge (`appendEdge`, `edgeRoot`).
 */
import { createHash } from "node:crypto";

export type Hash = Uint8Array;
/** A node of the perfect tree: the subtree of 2^level leaves starting at index · 2^level. */
export type Node = { level: number; index: number };
/** Leaves [start, end). */
export type Range = { start: number; end: number };

export const HASH_SIZE = 32;

function sha256(...parts: Uint8Array[]): Hash {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const LEAF_PREFIX = new Uint8Array([0]);
const NODE_PREFIX = new Uint8Array([1]);

export const emptyRoot = (): Hash => sha256();
export const leafHash = (entry: Uint8Array): Hash => sha256(LEAF_PREFIX, entry);
export const nodeHash = (left: Hash, right: Hash): Hash => sha256(NODE_PREFIX, left, right);

/** The largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH of a list of leaf hashes, straight from the RFC's recursive definition (tests and small trees). */
export function rootOfLeafHashes(hashes: Hash[]): Hash {
  if (hashes.length === 0) return emptyRoot();
  if (hashes.length === 1) return hashes[0] as Hash;
  const k = splitPoint(hashes.length);
  return nodeHash(rootOfLeafHashes(hashes.slice(0, k)), rootOfLeafHashes(hashes.slice(k)));
}

/** The root of a perfect subtree over 2^h consecutive node hashes of one level. */
export function perfectRoot(hashes: Hash[]): Hash {
  let level = hashes;
  while (level.length > 1) {
    const up: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(nodeHash(level[i] as Hash, level[i + 1] as Hash));
    level = up;
  }
  const root = level[0];
  if (!root || (hashes.length & (hashes.length - 1)) !== 0) throw new RangeError("not a perfect subtree");
  return root;
}

/** RFC 6962 PATH(m, D[n]) as ranges, leaf side first. */
export function inclusionRanges(index: number, size: number): Range[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`index ${index} is not below size ${size}`);
  const out: Range[] = [];
  const walk = (start: number, end: number): void => {
    if (end - start <= 1) return;
    const k = splitPoint(end - start);
    if (index < start + k) {
      walk(start, start + k);
      out.push({ start: start + k, end });
    } else {
      walk(start + k, end);
      out.push({ start, end: start + k });
    }
  };
  walk(0, size);
  return out;
}

/** RFC 6962 PROOF(m, D[n]) as ranges. */
export function consistencyRanges(from: number, to: number): Range[] {
  if (!(from > 0 && from <= to)) throw new RangeError(`no consistency proof from ${from} to ${to}`);
  const out: Range[] = [];
  const sub = (m: number, start: number, end: number, whole: boolean): void => {
    if (start + m === end) {
      if (!whole) out.push({ start, end });
      return;
    }
    const k = splitPoint(end - start);
    if (m <= k) {
      sub(m, start, start + k, whole);
      out.push({ start: start + k, end });
    } else {
      sub(m - k, start + k, end, false);
      out.push({ start, end: start + k });
    }
  };
  sub(from, 0, to, true);
  return out;
}

/**
 * The perfect aligned subtrees that make up a range, left to right. For the
 * ranges the RFC algorithms produce (and for [0, n)) this matches the RFC's
 * split, so `foldRange` of their hashes is MTH of the range.
 */
export function perfectNodes({ start, end }: Range): Node[] {
  const out: Node[] = [];
  let at = start;
  while (at < end) {
    let level = 0;
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= end) level++;
    out.push({ level, index: at / 2 ** level });
    at += 2 ** level;
  }
  return out;
}

/** Combines the hashes of perfectNodes(range), in order, into MTH of the range. */
export function foldRange(hashes: Hash[]): Hash {
  let acc = hashes.at(-1);
  if (!acc) throw new RangeError("empty range");
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(hashes[i] as Hash, acc);
  return acc;
}

/**
 * The right edge of a tree of `size` leaves (its compact range): the roots of
 * the perfect subtrees for each set bit of size, largest first. Appending a
 * leaf merges equal-sized subtrees, as a binary counter carries.
 */
export function appendEdge(edge: Hash[], size: number, leaf: Hash): Hash[] {
  const next = [...edge, leaf];
  for (let s = size; s & 1; s = Math.floor(s / 2)) {
    const right = next.pop() as Hash;
    const left = next.pop() as Hash;
    next.push(nodeHash(left, right));
  }
  return next;
}

export function edgeRoot(edge: Hash[]): Hash {
  return edge.length ? foldRange(edge) : emptyRoot();
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** RFC 9162 §2.1.3.2. */
export function verifyInclusion(leaf: Hash, index: number, size: number, proof: Hash[], root: Hash): boolean {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

/** RFC 9162 §2.1.4.2. */
export function verifyConsistency(from: number, to: number, proof: Hash[], oldRoot: Hash, newRoot: Hash): boolean {
  if (from === to) return proof.length === 0 && equal(oldRoot, newRoot);
  if (!(from > 0 && from < to) || proof.length === 0) return false;
  const path = (from & (from - 1)) === 0 ? [oldRoot, ...proof] : proof;
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Hash;
  let sr = path[0] as Hash;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, oldRoot) && equal(sr, newRoot);
}

export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export const fromHex = (h: string): Hash => new Uint8Array(Buffer.from(h, "hex"));
