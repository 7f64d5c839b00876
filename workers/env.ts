import type { ConfigVars } from "../core/config.ts";
import type { OutboxMessage } from "../core/outbox.ts";
import type { WebhookMessage } from "../core/webhooks.ts";
import type { ShardEnv } from "../durable-objects/ports.ts";
import type { StoreShard } from "../durable-objects/store-shard.ts";

/**
 * Every binding and secret the Worker script declares (wrangler.toml), and
 * the settings (core/config.ts: read them with `config(env)`, never raw).
 */
export interface Env extends ShardEnv, ConfigVars {
  SHARDS: DurableObjectNamespace<StoreShard>;
  BRANDING: KVNamespace;
  /** R2: dead-lettered queue messages, kept until the operator replays them (workers/ops/dead-letters.ts). */
  DEAD_LETTERS: R2Bucket;
  /** R2: archived days of receipts as Parquet, with a manifest per day (workers/archive/, docs/archive.md). */
  ARCHIVE: R2Bucket;
  /** The receipts queue's dead-letter queue (its consumer is this Worker; the producer is for tests and tools). */
  DEAD_LETTER_QUEUE?: Queue<OutboxMessage>;
  /** The webhooks queue (workers/webhooks/deliver.ts): deliveries to send now. */
  WEBHOOK_QUEUE: Queue<WebhookMessage>;
  /** Rate limiting binding for the public reads, per client IP (wrangler.toml [[ratelimits]]). */
  PUBLIC_READS?: RateLimit;
  /** Secret. Postgres (Neon in production). */
  DATABASE_URL: string;
  /** Secret. The Ed25519 key of terminal certificates and signed QR codes (contract v1.2), as LOG_SIGNING_KEY. */
  TERMINAL_CERT_KEY?: string;
  /** Secret. The platform operator's bearer token. */
  OPERATOR_TOKEN: string;
  /** Local only: host:port of the WebSocket→TCP tunnel to a plain Postgres. Unset for Neon. */
  NEON_WS_PROXY?: string;
}
