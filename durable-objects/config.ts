/** The shard's settings, read from the Worker's env once per object. */
import { V1_MAX_COUNTER } from "../core/code.ts";
import { config } from "../core/config.ts";
import { parseSigningKey, type Signer } from "../core/note.ts";
import type { ShardConfig, ShardEnv } from "./ports.ts";

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

export function shardConfig(env: ShardEnv): ShardConfig {
  const c = config(env);
  return {
    codeKey: env.CODE_KEY,
    codeFormat: c.CODE_FORMAT === "v1" ? 1 : 2,
    v1MaxCounter: V1_MAX_COUNTER,
    outboxLimit: c.OUTBOX_LIMIT,
    storeRate: c.STORE_MAX_RPS,
    flushMs: c.FLUSH_MS,
    commitWindowMs: c.COMMIT_WINDOW_MS,
    checkpointMs: c.CHECKPOINT_MS,
    logOrigin: c.LOG_ORIGIN,
    signers: () => signersFor(env.LOG_SIGNING_KEY),
  };
}
