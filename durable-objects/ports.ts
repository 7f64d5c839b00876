/**
 * What the shard's logic needs from the platform, as narrow interfaces. The
 * Durable Object passes its real storage, queue and bucket; tests pass
 * wrappers that fail on purpose ("failed but persisted", lost replies).
 */

import type { CodeFormat } from "../core/code.ts";
import type { ConfigVars } from "../core/config.ts";
import type { OutboxMessage } from "../core/outbox.ts";
import type { Logger } from "../kit/logger.ts";
import type { Signer } from "../tlog/note.ts";

/** What the shard object reads from the Worker's env: its bindings, its secrets and the settings. */
export interface ShardEnv extends ConfigVars {
  RECEIPTS_QUEUE: Queue<OutboxMessage>;
  LOG_TILES: R2Bucket;
  /** Secret. HMAC key of the receipt codes' check. */
  CODE_KEY: string;
  /** Secret. The log's Ed25519 signing key(s) in signed-note form. */
  LOG_SIGNING_KEY?: string;
  /** Postgres, read only by a shard that adopts its history (durable-objects/upgrade.ts). */
  DATABASE_URL: string;
  NEON_WS_PROXY?: string;
}

export type ShardStorage = Pick<DurableObjectStorage, "sql" | "transactionSync" | "sync" | "getAlarm" | "setAlarm">;

export type ShardConfig = {
  codeKey: string;
  /** The layout new codes get: 2 (20 characters, default) or 1 (16, for a staged rollout: CODE_FORMAT=v1). */
  codeFormat: CodeFormat;
  /** The last counter a shard may spend on v1 codes before it switches to v2 by itself (the v1 limit; lower in tests). */
  v1MaxCounter: number;
  /** Unpersisted receipts a shard may hold before it refuses new ones (503). */
  outboxLimit: number;
  /** Receipts a second per store (burst twice that). */
  storeRate: number;
  flushMs: number;
  /**
   * Group commit: a busy shard commits at most this often, so receipts that
   * arrive meanwhile share one row written. Idle shards commit at once.
   */
  commitWindowMs: number;
  /** A checkpoint is signed at most this long after a receipt is issued. */
  checkpointMs: number;
  /** Checkpoint origins are `<logOrigin>/<shard>`. */
  logOrigin: string;
  /** The log's signing keys, first the published one (none: no checkpoints are signed). */
  signers: () => Promise<Signer[]>;
};

export type ShardDeps = {
  storage: ShardStorage;
  /** The shard's only source of time (tests step it back). */
  clock: () => number;
  /** Where the shard's lines go (a test keeps them). */
  logger: Logger;
  queue: { sendBatch(messages: Iterable<MessageSendRequest<OutboxMessage>>): Promise<unknown> };
  tiles: Pick<R2Bucket, "put">;
  config: ShardConfig;
};
