/**
 * The log as C2SP tlog-tiles (height 8): a tile at level L holds up to 256
 * hashes of the tree's level 8·L, so every node of the tree is one tile read
 * plus at most 7 levels of hashing. Full tiles never change (R2 suits them);
 * the shard keeps only the unfilled tile of each level and the right edge.
 *
 * Pure: `appendLeaves` returns the next state and the tiles that filled up.
 */
import { appendEdge, HASH_SIZE, type Hash, leafHash, type Node, perfectRoot } from "./merkle.ts";

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 2 ** TILE_HEIGHT;

/** What a log is: its size, right edge, and the unfilled tile of each level (bottom first). */
export type LogState = { size: number; edge: Hash[]; partial: Hash[][] };
export type Tile = { level: number; index: number; hashes: Hash[] };

export const emptyLog = (): LogState => ({ size: 0, edge: [], partial: [] });

/**
 * Appends leaves (each the 32-byte entry, here a receipt's hash). Returns the
 * new state and every tile that became full, to be stored for good.
 */
export function appendLeaves(state: LogState, entries: Uint8Array[]): { state: LogState; full: Tile[] } {
  let { size, edge } = state;
  const partial = state.partial.map((p) => [...p]);
  const full: Tile[] = [];
  for (const entry of entries) {
    const leaf = leafHash(entry);
    edge = appendEdge(edge, size, leaf);
    size++;
    let carry: Hash = leaf;
    for (let level = 0; ; level++) {
      const row = partial[level] ?? [];
      row.push(carry);
      partial[level] = row;
      if (row.length < TILE_WIDTH) break;
      // This level's tile filled: it is final, and its root is one entry up.
      full.push({ level, index: size / TILE_WIDTH ** (level + 1) - 1, hashes: row });
      carry = perfectRoot(row);
      partial[level] = [];
    }
  }
  return { state: { size, edge, partial }, full };
}

/** Where a node's hash comes from: `count` entries from `offset` of tile (level, index). */
export type TileSpan = { level: number; index: number; offset: number; count: number };

export function tileSpanOf(node: Node): TileSpan {
  const level = Math.floor(node.level / TILE_HEIGHT);
  const count = 2 ** (node.level % TILE_HEIGHT);
  const first = node.index * count;
  return { level, index: Math.floor(first / TILE_WIDTH), offset: first % TILE_WIDTH, count };
}

/** The node's hash from the tile's entries (which must reach offset + count). */
export function nodeFromTile(span: TileSpan, hashes: Hash[]): Hash {
  const slice = hashes.slice(span.offset, span.offset + span.count);
  if (slice.length !== span.count) throw new RangeError("tile too short for this node");
  return perfectRoot(slice);
}

/** How many entries tile (level, index) has in a tree of `size` leaves (0 if none, 256 if full). */
export function tileWidth(level: number, index: number, size: number): number {
  const entries = Math.floor(size / TILE_WIDTH ** level);
  return Math.max(0, Math.min(TILE_WIDTH, entries - index * TILE_WIDTH));
}

/** C2SP tlog-tiles index path: 1234067 → x001/x234/067. */
export function tileIndexPath(index: number): string {
  const groups: string[] = [];
  let n = index;
  do {
    groups.unshift(String(n % 1000).padStart(3, "0"));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

/** Parses "<N path>[.p/<W>]" of a tile URL; null if malformed. */
export function parseTilePath(path: string): { index: number; width: number } | null {
  const m = /^((?:x\d{3}\/)*\d{3})(?:\.p\/(\d{1,3}))?$/.exec(path);
  if (!m) return null;
  const index = Number((m[1] as string).replaceAll("x", "").replaceAll("/", ""));
  const width = m[2] === undefined ? TILE_WIDTH : Number(m[2]);
  if (!Number.isSafeInteger(index) || width < 1 || width >= TILE_WIDTH + (m[2] === undefined ? 1 : 0)) return null;
  // Canonical form only: leading-zero groups would name the same tile twice.
  if (tileIndexPath(index) !== m[1] || (m[2] !== undefined && String(width) !== m[2])) return null;
  return { index, width };
}

export function packHashes(hashes: Hash[]): Uint8Array {
  const out = new Uint8Array(hashes.length * HASH_SIZE);
  for (const [i, h] of hashes.entries()) out.set(h, i * HASH_SIZE);
  return out;
}

export function unpackHashes(bytes: Uint8Array): Hash[] {
  if (bytes.length % HASH_SIZE !== 0) throw new RangeError("not a whole number of hashes");
  const out: Hash[] = [];
  for (let i = 0; i < bytes.length; i += HASH_SIZE) out.push(bytes.slice(i, i + HASH_SIZE));
  return out;
}

/** Where a full tile lives in the log's bucket: <shard>/tile/<L>/<N path>, as the public URL names it. */
export function tileObjectKey(shard: number, level: number, index: number): string {
  return `${shard}/tile/${level}/${tileIndexPath(index)}`;
}
