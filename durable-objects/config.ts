/** The shard's settings, read from the Worker's env once per object. */
import { V1_MAX_COUNTER } from "../core/code.ts";
import { config } from "../core/config.ts";
import { signersFor, witnessPolicyFor } from "../tlog/signers.ts";
import type { ShardConfig, ShardEnv } from "./ports.ts";

export function shardConfig(env: ShardEnv): ShardConfig {
  const c = config(env);
  return {
    codeKey: env.CODE_KEY,
    codeFormat: c.CODE_FORMAT === "v1" ? 1 : 2,
    v1MaxCounter: V1_MAX_COUNTER,
    outboxLimit: c.OUTBOX_LIMIT,
    storeRate: c.STORE_MAX_RPS,
    flushMs: c.FLUSH_MS,
    commitHoldMs: c.COMMIT_HOLD_MS,
    checkpointMs: c.CHECKPOINT_MS,
    logOrigin: c.LOG_ORIGIN,
    voidWindowMs: c.VOID_WINDOW_S * 1000,
    offlineMaxMs: c.OFFLINE_MAX_HOURS * 3_600_000,
    signers: () => signersFor(env.LOG_SIGNING_KEY),
    witnesses: () => witnessPolicyFor(c.WITNESSES, c.WITNESS_QUORUM),
  };
}
