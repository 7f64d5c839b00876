/**
 * Postgres from a Worker: drizzle over the Neon serverless driver's WebSocket
 * Pool. A Pool lives for one request or one queue batch (workerd forbids I/O
 * objects shared across requests) and is ended with waitUntil.
 */
import { Client, type ClientConfig, Pool, type PoolClient } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { Breaker } from "../kit/breaker.ts";
import { describeError } from "../kit/describe-error.ts";
import { consoleLogger } from "../kit/logger.ts";
import * as schema from "./schema.ts";

const dbLogger = consoleLogger();

type RowsOf<Row> = { rows: Row[]; rowCount: number | null };
/** What `execute` returns on either driver: pg's result, rows typed by the caller. */
interface ResultHKT extends PgQueryResultHKT {
  type: RowsOf<this["row"]>;
}
/**
 * Every query in db/ goes through drizzle on this type: the Worker's (Neon's
 * driver, below) and the scripts' and tests' (node-postgres) both fit it.
 */
export type Db = PgDatabase<ResultHKT, typeof schema>;
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

/**
 * Postgres is unreachable: the breaker is open, or connecting failed. Routes
 * answer 503 with Retry-After for it (workers/http.ts), never 500.
 */
export class PostgresUnavailable extends Error {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterMs: number, options?: ErrorOptions) {
    super(message, options);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}

/**
 * One failed connect opens the breaker for 1 s, doubling while the single trial
 * keeps failing, up to 10 s; a connect pending for 1 s lets no other start until
 * it ends. Requests then fail in microseconds, never wait out a connect timeout.
 */
const BREAKER = { threshold: 1, openMs: 1_000, maxOpenMs: 10_000, slowMs: 1_000, lostMs: 8_000 };
const breakers = new Map<string, Breaker>();
/** The breaker of this database, in this isolate. */
export function breakerFor(url: string): Breaker {
  let b = breakers.get(url);
  if (!b) {
    b = new Breaker(BREAKER);
    breakers.set(url, b);
  }
  return b;
}

type ConnectCallback = (err: Error | undefined, client?: PoolClient, done?: (release?: unknown) => void) => void;

/** Every new connection of the pool goes through the breaker (queries on a connection do not count). */
function guard(pool: Pool, breaker: Breaker): void {
  const connect = pool.connect.bind(pool) as (cb?: ConnectCallback) => Promise<PoolClient> | undefined;
  const refused = () =>
    new PostgresUnavailable("Postgres is unreachable (circuit open)", breaker.retryInMs(Date.now()));
  const failed = (e: unknown, startedAt: number) => {
    breaker.failure(Date.now(), startedAt);
    return new PostgresUnavailable(`could not connect to Postgres: ${(e as Error)?.message ?? e}`, 5_000, { cause: e });
  };
  (pool as unknown as { connect: (cb?: ConnectCallback) => Promise<PoolClient> | undefined }).connect = (cb) => {
    const startedAt = Date.now();
    if (!breaker.allow(startedAt)) {
      if (cb) {
        queueMicrotask(() => cb(refused()));
        return undefined;
      }
      return Promise.reject(refused());
    }
    if (cb) {
      return connect((err, client, done) => {
        if (err) return cb(failed(err, startedAt), client, done);
        breaker.success(startedAt);
        cb(undefined, client, done);
      });
    }
    return (connect() as Promise<PoolClient>).then(
      (client) => {
        breaker.success(startedAt);
        return client;
      },
      (e: unknown) => {
        throw failed(e, startedAt);
      },
    );
  };
}

let sessions = 0;

/** Whether `e` (or what it wraps: drizzle wraps the driver's errors) says Postgres could not be reached. */
export function isPostgresUnavailable(e: unknown): e is Error {
  for (let x = e, depth = 0; x instanceof Error && depth < 5; x = x.cause, depth++) {
    if (x instanceof PostgresUnavailable) return true;
  }
  return false;
}

/** The SQLSTATE Postgres answered with, if it did (drizzle wraps the driver's error in its own). */
export function sqlStateOf(e: unknown): string | null {
  for (let x = e, depth = 0; x instanceof Error && depth < 5; x = x.cause, depth++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return null;
}

/** The retry hint of an unavailable Postgres, in seconds. */
export function retryAfterOf(e: unknown): number {
  for (let x = e, depth = 0; x instanceof Error && depth < 5; x = x.cause, depth++) {
    if (x instanceof PostgresUnavailable) return x.retryAfterSeconds;
  }
  return 5;
}

/** Postgres connections this isolate has opened (a count for tests and the operator: anonymous load must not move it). */
export const sessionsOpened = (): number => sessions;

/** drizzle over Neon's Pool, or over one of its connections (a session's settings hold for every query). */
export const dbOf = (client: Pool | PoolClient): Db => drizzle({ client, schema });

export function openPg(env: DbEnv): Pg {
  const pool = new Pool({ connectionString: env.DATABASE_URL, connectionTimeoutMillis: 5_000, max: 4 });
  // The driver's Pool sets its own client class after construction, so the tunnel's replaces it here.
  if (env.NEON_WS_PROXY) pool.Client = tunnelClient(env.NEON_WS_PROXY);
  guard(pool, breakerFor(env.DATABASE_URL));
  let ended = false;
  // An idle connection dropping must not surface as an unhandled error; once the
  // pool is being ended (the request is over) a lost socket is expected.
  pool.on("connect", () => {
    sessions++;
  });
  pool.on("error", (e: Error) => {
    if (!ended) dbLogger.error({ msg: "postgres pool error", error: describeError(e) });
  });
  const end = () => {
    ended = true;
    return pool.end().catch(() => {});
  };
  return { db: dbOf(pool), pool, end };
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

/** Pools opened on first use, one per database (by URL), ended together: one request's or one message's. */
export type Pools = { at: (database?: { url: string }) => Pg; end: () => Promise<void> };

export function lazyPools(env: DbEnv): Pools {
  const open = new Map<string, Pg>();
  return {
    at: (database) => {
      const url = database?.url ?? env.DATABASE_URL;
      let handle = open.get(url);
      if (!handle) {
        handle = openPg({ ...env, DATABASE_URL: url });
        open.set(url, handle);
      }
      return handle;
    },
    end: async () => {
      await Promise.all([...open.values()].map((p) => p.end()));
    },
  };
}
