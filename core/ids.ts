import { z } from "zod";

/** Every id in the API: tenant, store, terminal. */
export const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, "must be 2–63 of a-z, 0-9 and '-', starting with a letter or digit");

/** FNV-1a, 32 bit: a stable, dependency-free spread of stores over shards. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The shard a new store is placed on. Fixed at creation: stored with the store. */
export function shardForStore(tenantId: string, storeId: string, shardCount: number): number {
  return fnv1a(`${tenantId}/${storeId}`) % shardCount;
}
