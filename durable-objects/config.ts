/** The shard's settings, read from the Worker's env once per object. */
import { parseSigningKey, type Signer } from "../core/note.ts";
import { type Env, intVar } from "../workers/env.ts";
import type { ShardConfig } from "./ports.ts";

const signers = new Map<string, Promise<Signer>>();

/** The parsed signing key, once per isolate (importing it is async WebCrypto work). */
export function signerFor(key: string | undefined): Promise<Signer | null> {
  if (!key) return Promise.resolve(null);
  let signer = signers.get(key);
  if (!signer) {
    signer = parseSigningKey(key);
    signers.set(key, signer);
  }
  return signer;
}

export const DEFAULT_LOG_ORIGIN = "tillproof.localhost/log";

export function shardConfig(env: Env): ShardConfig {
  return {
    codeKey: env.CODE_KEY,
    outboxLimit: intVar(env.OUTBOX_LIMIT, 2_000_000),
    storeRate: intVar(env.STORE_MAX_RPS, 200),
    flushMs: intVar(env.FLUSH_MS, 250),
    checkpointMs: intVar(env.CHECKPOINT_MS, 1_000),
    logOrigin: env.LOG_ORIGIN || DEFAULT_LOG_ORIGIN,
    signer: () => signerFor(env.LOG_SIGNING_KEY),
  };
}
