/**
 * The routing table (core/db-routes.ts) as the Worker and the shard read it:
 * parsed once per settings, and the connection settings of each database.
 */
import { codeRoute } from "../core/code.ts";
import { config } from "../core/config.ts";
import {
  allDatabases,
  type Database,
  databasesOf,
  PRIMARY,
  parseRoutes,
  type Routes,
  RoutesInvalid,
} from "../core/db-routes.ts";
import { type Db, type DbEnv, lazyPools } from "./client.ts";
import { findReceipt, type PersistedReceipt } from "./receipts.ts";

export type RoutedEnv = DbEnv & { DATABASE_URLS?: string; SHARD_COUNT?: string };

const parsed = new Map<string, Routes>();

/** The routing table of these settings; throws RoutesInvalid when it is malformed (nothing is routed by guess). */
export function routesOf(env: RoutedEnv): Routes {
  const key = `${env.DATABASE_URL}\n${env.SHARD_COUNT ?? ""}\n${env.DATABASE_URLS ?? ""}`;
  let routes = parsed.get(key);
  if (!routes) {
    routes = parseRoutes(env.DATABASE_URL, env.DATABASE_URLS, config(env).SHARD_COUNT);
    parsed.set(key, routes);
  }
  return routes;
}

/**
 * Every database, or the primary alone when the routing table cannot be read
 * (with why): for what must go on regardless (the crons, the operator's
 * status), never for a receipt's write or read, which wait for a sound table.
 */
export function databasesOrPrimary(env: RoutedEnv): { databases: Database[]; problem: string | null } {
  try {
    return { databases: allDatabases(routesOf(env)), problem: null };
  } catch (e) {
    if (!(e instanceof RoutesInvalid)) throw e;
    return { databases: [{ name: PRIMARY, url: env.DATABASE_URL }], problem: e.message };
  }
}

/** Whether more than the primary holds receipts. */
export const isRouted = (env: RoutedEnv): boolean => !!env.DATABASE_URLS?.trim();

/** How to reach `database` from this env (the local tunnel applies to every database). */
export const dbEnvOf = (env: DbEnv, database: Database): DbEnv => ({
  DATABASE_URL: database.url,
  ...(env.NEON_WS_PROXY ? { NEON_WS_PROXY: env.NEON_WS_PROXY } : {}),
});

/**
 * The first answer of `find` over the databases that may hold a code of
 * `shard`, newest layout first. One that fails fails the read only if no
 * other has the answer (a receipts database down does not hide the days
 * another holds).
 */
export async function findInShardDatabases<T>(
  env: RoutedEnv,
  shard: number,
  find: (database: Database) => Promise<T | null>,
): Promise<T | null> {
  let failure: { error: unknown } | null = null;
  for (const database of databasesOf(routesOf(env), shard)) {
    const found = await find(database).catch((error: unknown) => {
      failure ??= { error };
      return null;
    });
    if (found !== null) return found;
  }
  if (failure) throw (failure as { error: unknown }).error;
  return null;
}

/** A receipt by code, from the databases its shard's layouts name (the code carries its shard). */
export function findReceiptRouted(
  env: RoutedEnv,
  code: string,
  dbAt: (database: Database) => Db,
): Promise<PersistedReceipt | null> {
  const shard = codeRoute(code.replaceAll("-", ""))?.shard;
  if (shard === undefined) return findReceipt(dbAt(routesOf(env).primary), code);
  return findInShardDatabases(env, shard, (d) => findReceipt(dbAt(d), code));
}

/**
 * Runs `fn` with the primary and every receipts database (the primary first
 * among them), outside a request (cron, queue); the pools end after it.
 */
export async function withDatabases<T>(
  env: RoutedEnv,
  ctx: { waitUntil(p: Promise<unknown>): void },
  fn: (primary: Db, all: Db[]) => Promise<T>,
): Promise<T> {
  const pools = lazyPools(env);
  try {
    const routes = routesOf(env);
    return await fn(
      pools.at(routes.primary).db,
      allDatabases(routes).map((d) => pools.at(d).db),
    );
  } finally {
    ctx.waitUntil(pools.end());
  }
}
