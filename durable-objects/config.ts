/** The shard's settings, read from the Worker's env once per object. */
import { V1_MAX_COUNTER } from "../core/code.ts";
import { parseSigningKey, type Signer } from "../core/note.ts";
import { type Env, intVar } from "../workers/env.ts";
import type { ShardConfig } from "./ports.ts";

const parsed = new Map<string, Promise<Signer[]>>();

/**
 * The log's signing keys, parsed once per isolate (importing is async WebCrypto
 * work). LOG_SIGNING_KEY holds one key, or several separated by spaces during a
 * rotation: each signs every checkpoint, and the first is the one /v1/log/key
 * publishes. Empty when none is configured.
 */
export function signersFor(keys: string | undefined): Promise<Signer[]> {
  const text = keys?.trim() ?? "";
  let signers = parsed.get(text);
  if (!signers) {
    signers = Promise.all(
      text
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(parseSigningKey),
    );
    parsed.set(text, signers);
  }
  return signers;
}

/** The key /v1/log/key publishes, or null when the log has none. */
export const primarySigner = async (keys: string | undefined): Promise<Signer | null> =>
  (await signersFor(keys))[0] ?? null;

export const DEFAULT_LOG_ORIGIN = "tillproof.localhost/log";

export function shardConfig(env: Env): ShardConfig {
  return {
    codeKey: env.CODE_KEY,
    codeFormat: env.CODE_FORMAT === "v1" ? 1 : 2,
    v1MaxCounter: V1_MAX_COUNTER,
    outboxLimit: intVar(env.OUTBOX_LIMIT, 2_000_000),
    storeRate: intVar(env.STORE_MAX_RPS, 200),
    flushMs: intVar(env.FLUSH_MS, 250),
    commitWindowMs: intVar(env.COMMIT_WINDOW_MS, 50),
    checkpointMs: intVar(env.CHECKPOINT_MS, 1_000),
    logOrigin: env.LOG_ORIGIN || DEFAULT_LOG_ORIGIN,
    signers: () => signersFor(env.LOG_SIGNING_KEY),
  };
}
