import { describe, expect, it } from "vitest";
import {
  edgeRoot,
  type Hash,
  leafHash,
  rootOfLeafHashes,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";
import { consistencyProof, inclusionProof, leafAt, rootAt, type TileReader } from "./proofs.ts";
import { appendLeaves, emptyLog, type LogState, parseTilePath, TILE_WIDTH, type Tile, tileIndexPath } from "./tiles.ts";

const entry = (i: number) => new Uint8Array(32).fill(i % 251).map((b, j) => (j < 4 ? (i >> (8 * j)) & 255 : b));

/** A log built leaf by leaf with its full tiles kept, as the shard and R2 keep them. */
function build(n: number, step = 97): { state: LogState; full: Map<string, Hash[]>; leaves: Hash[] } {
  let state = emptyLog();
  const full = new Map<string, Hash[]>();
  const entries = Array.from({ length: n }, (_, i) => entry(i));
  for (let i = 0; i < n; i += step) {
    const r = appendLeaves(state, entries.slice(i, i + step));
    state = r.state;
    for (const t of r.full) full.set(`${t.level}/${t.index}`, t.hashes);
  }
  return { state, full, leaves: entries.map(leafHash) };
}

function reader(log: { state: LogState; full: Map<string, Hash[]> }): TileReader {
  return async (level, index, width) => {
    const tile = log.full.get(`${level}/${index}`) ?? log.state.partial[level];
    if (!tile || tile.length < width) throw new Error(`no tile ${level}/${index}/${width}`);
    return tile.slice(0, width);
  };
}

describe("tiles (C2SP tlog-tiles)", () => {
  it("encodes tile indexes as the spec does, and parses only the canonical form", () => {
    expect(tileIndexPath(0)).toBe("000");
    expect(tileIndexPath(1234067)).toBe("x001/x234/067");
    expect(tileIndexPath(1000)).toBe("x001/000");
    expect(parseTilePath("x001/x234/067")).toEqual({ index: 1234067, width: 256 });
    expect(parseTilePath("005.p/17")).toEqual({ index: 5, width: 17 });
    for (const bad of ["5", "x000/005", "005.p/0", "005.p/256", "005.p/017", "../005", "005/"]) {
      expect(parseTilePath(bad)).toBeNull();
    }
  });

  it("keeps the right edge, the unfilled tiles and the full ones consistent with the RFC root", () => {
    const n = TILE_WIDTH * TILE_WIDTH + 3 * TILE_WIDTH + 5; // two levels of full tiles
    const log = build(n, 1000);
    expect(log.state.size).toBe(n);
    expect(toHex(edgeRoot(log.state.edge))).toBe(toHex(rootOfLeafHashes(log.leaves)));
    expect(log.state.partial.map((p) => p.length)).toEqual([5, 3, 1]);
    expect([...log.full.keys()].filter((k) => k.startsWith("1/"))).toEqual(["1/0"]);
    const tiles: Tile[] = appendLeaves(emptyLog(), log.leaves.slice(0, 1)).full;
    expect(tiles).toEqual([]);
  });

  it("proves inclusion and consistency at past sizes from tiles alone", async () => {
    const n = 3 * TILE_WIDTH + 77;
    const log = build(n);
    const read = reader(log);
    for (const size of [1, 2, 255, 256, 257, 600, n]) {
      const root = await rootAt(size, read);
      expect(toHex(root)).toBe(toHex(rootOfLeafHashes(log.leaves.slice(0, size))));
      for (const i of [0, Math.floor(size / 2), size - 1]) {
        expect(toHex(await leafAt(i, size, read))).toBe(toHex(log.leaves[i]!));
        const proof = await inclusionProof(i, size, read);
        expect(verifyInclusion(log.leaves[i]!, i, size, proof, root)).toBe(true);
      }
      for (const from of [1, 3, 256, size]) {
        if (from > size) continue;
        const proof = from === size ? [] : await consistencyProof(from, size, read);
        expect(verifyConsistency(from, size, proof, await rootAt(from, read), root)).toBe(true);
      }
    }
  });
});
