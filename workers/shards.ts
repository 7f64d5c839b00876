/** Addressing store shards, and turning a platform failure into a 503 the client can retry. */

import { ApiError } from "../api/errors.ts";
import { config } from "../core/config.ts";
import type { StoreShard } from "../durable-objects/store-shard.ts";
import { describeError } from "../kit/describe-error.ts";
import type { Env } from "./env.ts";
import { logger } from "./request-context.ts";

export function shardCount(env: Env): number {
  return config(env).SHARD_COUNT;
}

export function shard(env: Env, n: number): DurableObjectStub<StoreShard> {
  return env.SHARDS.get(env.SHARDS.idFromName(`shard-${n}`));
}

/**
 * Runs one RPC to a shard. An overloaded or restarting object becomes a 503
 * with Retry-After: the terminal retries with the same Idempotency-Key, so a
 * reply lost after a durable write replays instead of issuing twice.
 */
export async function callShard<T>(n: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    logger.error({ msg: "shard call failed", shard: n, error: describeError(e) });
    throw new ApiError(503, "unavailable", "The receipt service is busy; retry with the same Idempotency-Key.", {
      retryAfter: 2,
    });
  }
}
