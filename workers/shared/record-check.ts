/**
 * The comparison verify makes between a stored record and its shard's signed
 * log, for callers without a request: the webhooks consumer checks each
 * payload's receipt with it before signing (#26). A record passes when it
 * still hashes to its hash and that hash is the leaf its shard's log holds at
 * its entry.
 */
import { canonicalHash } from "../../core/canonical.ts";
import { chainStatus } from "../../core/chain.ts";
import { parseCode } from "../../core/code.ts";
import type { ChainRecord } from "../../core/receipt.ts";
import type { LogView } from "../../durable-objects/log.ts";
import { fromHex, leafHash, toHex } from "../../tlog/merkle.ts";
import { leafAt } from "../../tlog/proofs.ts";
import type { Env } from "../env.ts";
import { shard } from "../shards.ts";
import { tileReader } from "./tiles.ts";

/**
 * The receipt hash the log holds at `index`: `hash` itself if its leaf
 * matches, else a marker that cannot equal any hash (also for an entry the
 * log never reached: a record claiming it was never issued by this shard).
 */
export async function loggedHash(env: Env, n: number, index: number, hash: string, log: LogView): Promise<string> {
  if (index >= log.size) return "not in the log";
  const leaf = await leafAt(index, log.size, tileReader(env, n, log));
  return toHex(leaf) === toHex(leafHash(fromHex(hash))) ? hash : `leaf ${toHex(leaf)}`;
}

/** Each shard's log view, read once per caller (a batch). */
export type LogViews = (n: number) => Promise<LogView>;

export function logViews(env: Env): LogViews {
  const cache = new Map<number, Promise<LogView>>();
  return (n) => {
    let view = cache.get(n);
    if (!view) {
      view = shard(env, n).logView();
      // A failed read is not kept: the next caller tries again.
      view.catch(() => cache.delete(n));
      cache.set(n, view);
    }
    return view;
  };
}

/**
 * Null when the record is what the log holds; else why not. Throws when the
 * log cannot be read now (the caller waits: it never acts on an unchecked record).
 */
export async function recordProblem(
  env: Env,
  record: ChainRecord,
  hash: string,
  views: LogViews = logViews(env),
): Promise<string | null> {
  const parts = parseCode(env.CODE_KEY, record.code);
  if (!parts || parts.code !== record.code) return "its code is not one this service issued";
  const logged = await loggedHash(env, parts.shard, parts.counter - 1, hash, await views(parts.shard));
  // The chain link to the predecessor is the audit's (it needs the store's previous row).
  if (chainStatus(record, hash, logged, null) === "valid") return null;
  if (canonicalHash(record) !== hash) return "the receipt no longer hashes to its hash";
  if (logged !== hash) return "its hash is not the entry its shard's signed log holds";
  return "its store's first receipt does not start the chain";
}
