import type { ConfigVars } from "../core/config.ts";
import type { ShardEnv } from "../durable-objects/ports.ts";
import type { StoreShard } from "../durable-objects/store-shard.ts";

/**
 * Every binding and secret the Worker script declares (wrangler.toml), and
 * the settings (core/config.ts: read them with `config(env)`, never raw).
 */
export interface Env extends ShardEnv, ConfigVars {
  SHARDS: DurableObjectNamespace<StoreShard>;
  BRANDING: KVNamespace;
  /** Rate limiting binding for the public reads, per client IP (wrangler.toml [[ratelimits]]). */
  PUBLIC_READS?: RateLimit;
  /** Secret. Postgres (Neon in production). */
  DATABASE_URL: string;
  /** Secret. The platform operator's bearer token. */
  OPERATOR_TOKEN: string;
  /** Local only: host:port of the WebSocket→TCP tunnel to a plain Postgres. Unset for Neon. */
  NEON_WS_PROXY?: string;
}
