import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  appendEdge,
  consistencyRanges,
  edgeRoot,
  foldRange,
  type Hash,
  inclusionRanges,
  leafHash,
  nodeHash,
  perfectNodes,
  type Range,
  rootOfLeafHashes,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";

// The eight leaf inputs of the RFC 6962 test data used by CT implementations.
const INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(
  (h) => new Uint8Array(Buffer.from(h, "hex")),
);
const sha = (...parts: (number[] | Uint8Array)[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(Uint8Array.from(p));
  return new Uint8Array(h.digest());
};
const leaves = INPUTS.map(leafHash);

/** MTH written out by hand from RFC 6962 §2.1 for the first seven leaves (the RFC's own figure). */
function byHand() {
  const [a, b, c, d, e, f, j] = INPUTS.slice(0, 7).map((x) => sha([0], x)) as Hash[];
  const g = sha([1], a!, b!);
  const h = sha([1], c!, d!);
  const i = sha([1], e!, f!);
  const k = sha([1], g, h);
  const l = sha([1], i, j!);
  return { a, b, c, d, e, f, j, g, h, i, k, l, root: sha([1], k, l) } as Record<string, Hash>;
}

const hashOf = (r: Range) => rootOfLeafHashes(leaves.slice(r.start, r.end));

describe("merkle (RFC 6962 §2.1)", () => {
  it("computes MTH as the RFC defines it", () => {
    const n = byHand();
    expect(toHex(rootOfLeafHashes(leaves.slice(0, 7)))).toBe(toHex(n.root!));
    expect(toHex(rootOfLeafHashes([]))).toBe(toHex(sha([])));
    // Roots published with the CT test data for these inputs (sizes 1, 2, 7 and 8).
    expect(toHex(rootOfLeafHashes(leaves.slice(0, 1)))).toBe(
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    );
    expect(toHex(rootOfLeafHashes(leaves.slice(0, 2)))).toBe(
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    );
    expect(toHex(rootOfLeafHashes(leaves.slice(0, 7)))).toBe(
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    );
    expect(toHex(rootOfLeafHashes(leaves))).toBe("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
  });

  it("gives the RFC's audit paths for its seven-leaf example", () => {
    const n = byHand();
    const names = (ranges: Range[]) => ranges.map((r) => toHex(hashOf(r)));
    const want = (...ks: string[]) => ks.map((k) => toHex(n[k]!));
    expect(names(inclusionRanges(0, 7))).toEqual(want("b", "h", "l"));
    expect(names(inclusionRanges(3, 7))).toEqual(want("c", "g", "l"));
    expect(names(inclusionRanges(4, 7))).toEqual(want("f", "j", "k"));
    expect(names(inclusionRanges(6, 7))).toEqual(want("i", "k"));
  });

  it("gives the RFC's consistency proofs for its example", () => {
    const n = byHand();
    const names = (ranges: Range[]) => ranges.map((r) => toHex(hashOf(r)));
    const want = (...ks: string[]) => ks.map((k) => toHex(n[k]!));
    expect(names(consistencyRanges(3, 7))).toEqual(want("c", "d", "g", "l"));
    expect(names(consistencyRanges(4, 7))).toEqual(want("l"));
    expect(names(consistencyRanges(6, 7))).toEqual(want("i", "j", "k"));
  });

  it("verifies every inclusion and consistency proof up to 40 leaves, and rejects altered ones", () => {
    const many = Array.from({ length: 40 }, (_, i) => leafHash(new Uint8Array([i, i >> 8])));
    const root = (n: number) => rootOfLeafHashes(many.slice(0, n));
    const proof = (ranges: Range[]) => ranges.map((r) => rootOfLeafHashes(many.slice(r.start, r.end)));
    for (let size = 1; size <= many.length; size++) {
      for (let i = 0; i < size; i++) {
        const p = proof(inclusionRanges(i, size));
        expect(verifyInclusion(many[i]!, i, size, p, root(size))).toBe(true);
        expect(verifyInclusion(many[(i + 1) % size]!, i, size, p, root(size)) && size > 1).toBe(false);
        if (p.length) expect(verifyInclusion(many[i]!, i, size, p.slice(1), root(size))).toBe(false);
      }
      for (let m = 1; m <= size; m++) {
        const p = proof(m === size ? [] : consistencyRanges(m, size));
        expect(verifyConsistency(m, size, p, root(m), root(size))).toBe(true);
        if (m < size) expect(verifyConsistency(m, size, p, root(m), root(m))).toBe(false);
      }
    }
  });

  it("keeps the right edge so its root is the tree's root at every size", () => {
    let edge: Hash[] = [];
    for (let size = 0; size < leaves.length; size++) {
      edge = appendEdge(edge, size, leaves[size]!);
      expect(toHex(edgeRoot(edge))).toBe(toHex(rootOfLeafHashes(leaves.slice(0, size + 1))));
      expect(edge.length).toBe((size + 1).toString(2).replaceAll("0", "").length);
    }
  });

  it("breaks a range into perfect aligned subtrees whose fold is the range's hash", () => {
    expect(perfectNodes({ start: 4, end: 7 })).toEqual([
      { level: 1, index: 2 },
      { level: 0, index: 6 },
    ]);
    const n = byHand();
    expect(toHex(foldRange([n.k!, n.i!, n.j!]))).toBe(toHex(n.root!));
    expect(toHex(nodeHash(n.g!, n.h!))).toBe(toHex(n.k!));
  });
});
