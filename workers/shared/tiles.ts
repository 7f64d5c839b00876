/**
 * Reading a shard's log from the Worker: full tiles from R2 (immutable, so
 * each isolate keeps the ones it read), the unfilled ones from the shard's
 * view, and a full tile the shard has not uploaded yet from the shard itself.
 */

import type { LogView } from "../../durable-objects/log.ts";
import type { Hash } from "../../tlog/merkle.ts";
import type { TileReader } from "../../tlog/proofs.ts";
import { TILE_WIDTH, tileObjectKey, unpackHashes } from "../../tlog/tiles.ts";
import type { Env } from "../env.ts";
import { shard } from "../shards.ts";

const CACHE_MAX = 512; // 512 × 8 KiB = 4 MiB per isolate
const fullTiles = new Map<string, Hash[]>();

/** A full tile from R2 (or this isolate's copy of it); null if R2 does not have it (yet). */
export async function storedFullTile(env: Env, n: number, level: number, index: number): Promise<Hash[] | null> {
  const key = tileObjectKey(n, level, index);
  const cached = fullTiles.get(key);
  if (cached) return cached;
  const object = await env.LOG_TILES.get(key);
  if (!object) return null;
  const hashes = unpackHashes(new Uint8Array(await object.arrayBuffer()));
  if (fullTiles.size >= CACHE_MAX) fullTiles.delete(fullTiles.keys().next().value as string);
  fullTiles.set(key, hashes);
  return hashes;
}

async function fullTile(env: Env, n: number, level: number, index: number): Promise<Hash[] | null> {
  const stored = await storedFullTile(env, n, level, index);
  if (stored) return stored;
  // Not uploaded yet: the shard still has it. Or it was uploaded just now: R2 again.
  const pending = await shard(env, n).pendingTile(level, index);
  return pending ? unpackHashes(pending) : storedFullTile(env, n, level, index);
}

export function tileReader(env: Env, n: number, view: LogView): TileReader {
  return async (level, index, width) => {
    const partial = view.tiles.find((t) => t.level === level && t.index === index);
    if (partial && partial.hashes.length >= width * 32) return unpackHashes(partial.hashes.subarray(0, width * 32));
    const full = width <= TILE_WIDTH ? await fullTile(env, n, level, index) : null;
    if (!full) throw new Error(`log tile ${n}/${level}/${index} is not available`);
    return full.slice(0, width);
  };
}
