/**
 * Postgres from a Worker: drizzle over the Neon serverless driver's WebSocket
 * Pool. A Pool lives for one request or one queue batch (workerd forbids I/O
 * objects shared across requests) and is ended with waitUntil.
 */
import { Client, type ClientConfig, Pool } from "@neondatabase/serverless";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import { describeError } from "../core/log.ts";
import * as schema from "./schema.ts";

export type Db = NeonDatabase<typeof schema>;
export type Pg = { db: Db; pool: Pool; end: () => Promise<void> };
export type DbEnv = { DATABASE_URL: string; NEON_WS_PROXY?: string };

/**
 * Locally, the driver goes through the WebSocket→TCP tunnel without TLS. That
 * is set on each connection of this pool only (its own client class), never on
 * the driver's global config, so nothing else in the isolate loses TLS.
 */
function tunnelClient(proxy: string): typeof Client {
  return class TunnelClient extends Client {
    constructor(config?: string | ClientConfig) {
      super(config);
      const c = this.neonConfig;
      c.wsProxy = (host, port) => `${proxy}/v2?address=${host}:${port}`;
      c.useSecureWebSocket = false;
      c.pipelineTLS = false;
      c.pipelineConnect = false;
    }
  };
}

let sessions = 0;

/** Postgres connections this isolate has opened (a count for tests and the operator: anonymous load must not move it). */
export const sessionsOpened = (): number => sessions;

export function openPg(env: DbEnv): Pg {
  const pool = new Pool({ connectionString: env.DATABASE_URL, connectionTimeoutMillis: 5_000, max: 4 });
  // The driver's Pool sets its own client class after construction, so the tunnel's replaces it here.
  if (env.NEON_WS_PROXY) pool.Client = tunnelClient(env.NEON_WS_PROXY);
  let ended = false;
  // An idle connection dropping must not surface as an unhandled error; once the
  // pool is being ended (the request is over) a lost socket is expected.
  pool.on("connect", () => {
    sessions++;
  });
  pool.on("error", (e: Error) => {
    if (!ended) console.error(JSON.stringify({ msg: "postgres pool error", error: describeError(e) }));
  });
  const end = () => {
    ended = true;
    return pool.end().catch(() => {});
  };
  return { db: drizzle({ client: pool, schema }), pool, end };
}

/** Runs `fn` with a fresh pool and ends the pool after the response. */
export async function withPg<T>(
  env: DbEnv,
  ctx: { waitUntil(p: Promise<unknown>): void },
  fn: (pg: Pg) => Promise<T>,
): Promise<T> {
  const pg = openPg(env);
  try {
    return await fn(pg);
  } finally {
    ctx.waitUntil(pg.end());
  }
}
