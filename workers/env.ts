import type { OutboxMessage } from "../core/outbox.ts";
import type { StoreShard } from "../durable-objects/store-shard.ts";

/** Every binding the Worker script declares (wrangler.toml). */
export interface Env {
  SHARDS: DurableObjectNamespace<StoreShard>;
  RECEIPTS_QUEUE: Queue<OutboxMessage>;
  BRANDING: KVNamespace;
  /** Rate limiting binding for the public reads, per client IP (wrangler.toml [[ratelimits]]). */
  PUBLIC_READS?: RateLimit;
  /** Public reads a second per client IP before 429 (default 20; 0 turns the limit off). */
  PUBLIC_RPS?: string;
  /** R2: the transparency log's full hash tiles (C2SP tlog-tiles), written by the shards. */
  LOG_TILES: R2Bucket;
  /** Secret. Postgres (Neon in production). */
  DATABASE_URL: string;
  /** Secret. The platform operator's bearer token. */
  OPERATOR_TOKEN: string;
  /** Secret. HMAC key of the receipt codes' check. Never rotate it: old codes would stop verifying. */
  CODE_KEY: string;
  /** "v1": keep issuing 16-character codes (staged rollout). Default: 20-character codes. */
  CODE_FORMAT?: string;
  /** "on": also accept tenant keys and terminal tokens minted before they carried a tag (a migration only). */
  LEGACY_CREDENTIALS?: string;
  /** Shards new stores are spread over. Raising it never moves an existing store. */
  SHARD_COUNT: string;
  /** Local only: host:port of the WebSocket→TCP tunnel to a plain Postgres. Unset for Neon. */
  NEON_WS_PROXY?: string;
  /** Base of the printed verify URL, e.g. https://verify.example.com. Defaults to the request's origin. */
  PUBLIC_BASE_URL?: string;
  /** "on": keep persisted verify answers and pages in the edge cache for their max-age (30 s). */
  VERIFY_EDGE_CACHE?: string;
  /** Secret. The log's Ed25519 signing key in signed-note form (PRIVATE+KEY+<name>+<id>+<key>). */
  LOG_SIGNING_KEY?: string;
  /** Checkpoint origin prefix: each shard's origin is `<LOG_ORIGIN>/<shard>`. */
  LOG_ORIGIN?: string;
  /** A checkpoint is signed at most this many ms after a receipt is issued (default 1000). */
  CHECKPOINT_MS?: string;
  /** Outbox flush interval in ms (default 250). */
  FLUSH_MS?: string;
  COMMIT_WINDOW_MS?: string;
  /** Receipts a second one store may issue (burst twice that) before 429 (default 200). */
  STORE_MAX_RPS?: string;
  /** Unpersisted receipts a shard may hold before ingest answers 503 (default 2000000). */
  OUTBOX_LIMIT?: string;
}

export function intVar(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}
