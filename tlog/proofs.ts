/**
 * Proofs and roots at any size, read from tiles: the nodes a proof needs are
 * named by merkle.ts, located by tiles.ts and fetched through a TileReader the
 * caller supplies (R2 and the shard in the Worker, HTTP in the audit).
 */
import { consistencyRanges, foldRange, type Hash, inclusionRanges, perfectNodes, type Range, toHex } from "./merkle.ts";
import { nodeFromTile, tileSpanOf, tileWidth } from "./tiles.ts";

/** Returns the first `width` entries of tile (level, index); rejects if it cannot. */
export type TileReader = (level: number, index: number, width: number) => Promise<Hash[]>;

/** Reads each tile once per use (a proof touches a few nodes of the same tile). */
function memo(read: TileReader): TileReader {
  const seen = new Map<string, Promise<Hash[]>>();
  return (level, index, width) => {
    const key = `${level}/${index}/${width}`;
    let p = seen.get(key);
    if (!p) {
      p = read(level, index, width);
      seen.set(key, p);
    }
    return p;
  };
}

async function rangeHash(range: Range, size: number, read: TileReader): Promise<Hash> {
  const hashes = await Promise.all(
    perfectNodes(range).map(async (node) => {
      const span = tileSpanOf(node);
      return nodeFromTile(span, await read(span.level, span.index, tileWidth(span.level, span.index, size)));
    }),
  );
  return foldRange(hashes);
}

const hashesOf = (ranges: Range[], size: number, read: TileReader) => {
  const once = memo(read);
  return Promise.all(ranges.map((r) => rangeHash(r, size, once)));
};

export const inclusionProof = (index: number, size: number, read: TileReader) =>
  hashesOf(inclusionRanges(index, size), size, read);

export const consistencyProof = (from: number, to: number, read: TileReader) =>
  hashesOf(consistencyRanges(from, to), to, read);

export const rootAt = async (size: number, read: TileReader): Promise<Hash> =>
  (await hashesOf([{ start: 0, end: size }], size, read))[0] as Hash;

/** The leaf hash at `index` of a tree of `size`. */
export const leafAt = async (index: number, size: number, read: TileReader): Promise<Hash> =>
  (await hashesOf([{ start: index, end: index + 1 }], size, read))[0] as Hash;

export const hexList = (hashes: Hash[]): string[] => hashes.map(toHex);
