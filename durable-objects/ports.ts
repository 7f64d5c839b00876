/**
 * What the shard's logic needs from the platform, as narrow interfaces. The
 * Durable Object passes its real storage, queue and bucket; tests pass
 * wrappers that fail on purpose ("failed but persisted", lost replies).
 */

import type { CodeFormat } from "../core/code.ts";
import type { ConfigVars } from "../core/config.ts";
import type { OutboxMessage } from "../core/outbox.ts";
import type { ChainRecord } from "../core/receipt.ts";
import type { Claim, Hold, LedgerRefusal, ReserveRequest } from "../core/refunds.ts";
import type { Logger } from "../kit/logger.ts";
import type { Signer } from "../tlog/note.ts";
import type { WitnessPolicy } from "../tlog/witness-protocol.ts";
import type { WitnessFetch } from "./witnessing.ts";

/** What the shard object reads from the Worker's env: its bindings, its secrets and the settings. */
export interface ShardEnv extends ConfigVars {
  RECEIPTS_QUEUE: Queue<OutboxMessage>;
  LOG_TILES: R2Bucket;
  /** Secret. HMAC key of the receipt codes' check. */
  CODE_KEY: string;
  /** Secret. The log's Ed25519 signing key(s) in signed-note form. */
  LOG_SIGNING_KEY?: string;
  /** This very namespace: a refund's shard reaches its original's ledger. */
  SHARDS: DurableObjectNamespace;
  /** Postgres: read by a shard that adopts its history (durable-objects/upgrade.ts), and for a refund's original. */
  DATABASE_URL: string;
  /** Secret. The dated routing table of receipts databases (core/db-routes.ts); unset: all on DATABASE_URL. */
  DATABASE_URLS?: string;
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
   * Group commit: a commit starts once the previous one is durable and takes
   * all that waits; a lone receipt may hold this long for company, while that pays.
   */
  commitHoldMs: number;
  /** A checkpoint is signed at most this long after a receipt is issued. */
  checkpointMs: number;
  /** Checkpoint origins are `<logOrigin>/<shard>`. */
  logOrigin: string;
  /** A void is accepted this long after its sale's receivedAt (VOID_WINDOW_S). */
  voidWindowMs: number;
  /** An offline receipt registered more than this after its signedAt is late (OFFLINE_MAX_HOURS). */
  offlineMaxMs: number;
  /** The log's signing keys, first the published one (none: no checkpoints are signed). */
  signers: () => Promise<Signer[]>;
  /** WITNESSES and WITNESS_QUORUM: who must cosign a checkpoint before it is served (none: as in v1.1). */
  witnesses: () => Promise<WitnessPolicy>;
};

/** A reservation on an original's ledger, as the refund's shard asks for it (core/refunds.ts). */
export type ReserveCall = Omit<ReserveRequest, "now" | "expiresAt" | "voidWindowMs"> & {
  shard: number;
  counter: number;
  /** The original's code, ungrouped: the counter's code in the layout the terminal printed. */
  code: string;
};
export type ReserveAnswer =
  | { ok: true; attempt: number; claim: Claim }
  | LedgerRefusal
  /** The original could not be read right now (Postgres away): retry. */
  | { reason: "unavailable" };
export type ConfirmCall = {
  counter: number;
  hold: string;
  kind: "refund" | "void";
  claim: Claim;
  from: number;
  issued: NonNullable<Hold["issued"]>;
};
/** What became of a reservation, as the refund's shard knows it. */
export type HoldOutcome = { state: "issued"; confirm: ConfirmCall } | { state: "pending" } | { state: "unknown" };

/** The refund ledgers of another shard (or this one), as a saga step sees them. */
export interface LedgerPeer {
  reserve(call: ReserveCall): Promise<ReserveAnswer>;
  confirm(call: ConfirmCall): Promise<void>;
  release(call: { counter: number; hold: string; attempt?: number }): Promise<void>;
  holdOutcome(hold: string): Promise<HoldOutcome>;
}

export type ShardDeps = {
  storage: ShardStorage;
  /** The shard's only source of time (tests step it back). */
  clock: () => number;
  /** Where the shard's lines go (a test keeps them). */
  logger: Logger;
  queue: { sendBatch(messages: Iterable<MessageSendRequest<OutboxMessage>>): Promise<unknown> };
  tiles: Pick<R2Bucket, "put" | "get">;
  /** How the shard reaches its witnesses (the global fetch; tests put a faulty or recording one here). */
  witnessFetch: WitnessFetch;
  config: ShardConfig;
  /** Another shard's refund ledgers (a refund's original may live anywhere). */
  peer: (shard: number) => LedgerPeer;
  /** A receipt by code from the record store (Postgres), for an original the ring no longer holds. */
  findRecord: (code: string) => Promise<ChainRecord | null>;
};
