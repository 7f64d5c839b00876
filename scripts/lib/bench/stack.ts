/**
 * Everything the bench runs against, started on free ports and torn down in
 * reverse order: Postgres (embedded in .data/bench/<run>, or a fresh database on
 * TEST_DATABASE_URL / DATABASE_URL), migrations, the Neon WebSocket tunnel (in
 * a child process), the Worker bundled by `wrangler deploy --dry-run`, and one
 * Miniflare (one workerd) running the product and a bare baseline Worker side
 * by side, each on its own direct socket.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import pg from "pg";
import type { Cleanup } from "../stack/cleanup.ts";
import { applyMigrations } from "../stack/migrate.ts";
import { freePort, freePorts } from "../stack/ports.ts";
import { type RunningPostgres, startEmbeddedPostgres } from "../stack/postgres.ts";
import { QUIET_ENV, quiet } from "../stack/settings.ts";
import type { ShardTally } from "./entry.ts";

export const ROOT = resolve(import.meta.dirname, "../../..");
const require = createRequire(import.meta.url);

quiet();

// ---------------------------------------------------------------- Postgres

export type Database = {
  /** The bench's own fresh database. */
  url: string;
  /** The embedded server's data directory (for its postmaster pid), if embedded. */
  dataDir: string | null;
  external: boolean;
};

export async function startDatabase(runDir: string, cleanup: Cleanup, log: (l: string) => void): Promise<Database> {
  const given = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  let adminUrl: string;
  let dataDir: string | null = null;
  if (given) {
    adminUrl = given;
    log(`Postgres: using ${given.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@")} (a fresh database on it)`);
  } else {
    dataDir = resolve(runDir, "pg");
    const port = await freePort();
    const t0 = Date.now();
    const server: RunningPostgres = await startEmbeddedPostgres({ dir: dataDir, port, database: "postgres" });
    cleanup.add("postgres", () => server.stop());
    adminUrl = server.url;
    log(`Postgres: embedded on 127.0.0.1:${port}, ${dataDir} (${Date.now() - t0} ms)`);
  }
  const database = `tillproof_bench_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  cleanup.add("drop bench database", async () => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } finally {
      await c.end();
    }
  });
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  await applyMigrations(url.toString());
  return { url: url.toString(), dataDir, external: Boolean(given) };
}

/** The postmaster's pid, from its data directory. */
export function postmasterPid(dataDir: string | null): number | null {
  if (!dataDir) return null;
  const file = resolve(dataDir, "postmaster.pid");
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

// ---------------------------------------------------------------- tunnel

export type TunnelProcess = { port: number; pid: number };

export async function startTunnelProcess(target: string, cleanup: Cleanup): Promise<TunnelProcess> {
  const child: ChildProcess = spawn(process.execPath, [resolve(import.meta.dirname, "tunnel-child.ts"), target], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  cleanup.add("tunnel", async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((ok) => child.once("exit", ok));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 3000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const port = await new Promise<number>((ok, fail) => {
    let text = "";
    const timer = setTimeout(() => fail(new Error("the tunnel did not start in 10 s")), 10_000);
    child.stdout?.on("data", (d: Buffer) => {
      text += d.toString();
      const m = /PORT (\d+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    });
    child.once("exit", (code) => fail(new Error(`the tunnel exited (${code})`)));
  });
  return { port, pid: child.pid ?? 0 };
}

// ---------------------------------------------------------------- bundle

/** `wrangler deploy --dry-run` into outdir; returns the bundled entry file. */
export async function bundle(outdir: string, entry: string | null): Promise<string> {
  const wranglerBin = resolve(ROOT, "node_modules/.bin/wrangler");
  rmSync(outdir, { recursive: true, force: true });
  const args = ["deploy", "--dry-run", "--outdir", outdir, ...(entry ? [entry] : [])];
  const out = await new Promise<string>((ok, fail) => {
    const child = spawn(wranglerBin, args, {
      cwd: ROOT,
      env: { ...process.env, ...QUIET_ENV, WRANGLER_LOG: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout.on("data", (d: Buffer) => {
      text += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      text += d.toString();
    });
    child.once("exit", (code) =>
      code === 0 ? ok(text) : fail(new Error(`wrangler deploy --dry-run failed:\n${text}`)),
    );
  });
  // Named after the entry (index.js for the product's main, entry.js for the bench entry).
  const js = existsSync(outdir) ? readdirSync(outdir).filter((f) => f.endsWith(".js")) : [];
  if (js.length !== 1)
    throw new Error(`expected one bundled .js in ${outdir}, found ${js.join(", ") || "none"}:\n${out}`);
  return resolve(outdir, js[0] as string);
}

// ---------------------------------------------------------------- Miniflare

/** The part of Miniflare's API the bench uses (wrangler's own miniflare 5). */
type MiniflareInstance = {
  ready: Promise<URL>;
  unsafeGetDirectURL(workerName?: string): Promise<URL>;
  getDurableObjectNamespace(binding: string, workerName?: string): Promise<DurableObjectNamespace>;
  dispose(): Promise<void>;
};
type MiniflareModule = {
  Miniflare: new (opts: unknown) => MiniflareInstance;
  convertV4MiniflareOptions: (opts: unknown) => unknown;
  Log: new (level: number) => unknown;
  LogLevel: Record<string, number>;
};
type WranglerModule = {
  unstable_getMiniflareWorkerOptions(configPath: string): { workerOptions: Record<string, unknown> };
};

/** Wrangler's own miniflare (5.x), never a second copy. */
export function loadMiniflare(): MiniflareModule {
  const fromWrangler = createRequire(require.resolve("wrangler/package.json"));
  return fromWrangler("miniflare") as MiniflareModule;
}

export type WorkerLog = { level: string; message: string };

export type Workers = {
  productUrl: string;
  baselineUrl: string;
  /** The workerd process Miniflare started. */
  workerdPid: number | null;
  inspectorPort: number | null;
  /** Per-shard counters of the bench entry, or null in --exact mode. */
  tally(shardNumbers: number[]): Promise<Map<number, ShardTally> | null>;
  /** Has these shards write out their idempotency keys and store heads now (a mark); no-op with --exact. */
  mark(shardNumbers: number[]): Promise<void>;
  logs: WorkerLog[];
  /** Stops this workerd (also done by the cleanup; safe to call twice). */
  dispose(): Promise<void>;
};

export async function startWorkers(opts: {
  script: string;
  instrumented: boolean;
  vars: Record<string, string>;
  persistDir: string;
  inspector: boolean;
  cleanup: Cleanup;
}): Promise<Workers> {
  const { Miniflare, convertV4MiniflareOptions, Log, LogLevel } = loadMiniflare();
  const wrangler = (await import(require.resolve("wrangler"))) as WranglerModule;
  // The bindings exactly as wrangler reads them from wrangler.toml (DO, queue
  // producer + consumer with its DLQ, KV, vars), then this run's secrets.
  const fromToml = wrangler.unstable_getMiniflareWorkerOptions(resolve(ROOT, "wrangler.toml")).workerOptions;
  const [productPort, baselinePort, spare] = await freePorts(3);
  const inspectorPort = opts.inspector ? (spare ?? null) : null;
  const logs: WorkerLog[] = [];
  const product = {
    ...fromToml,
    name: "tillproof",
    modules: [{ type: "ESModule", path: opts.script, contents: readFileSync(opts.script, "utf8") }],
    bindings: { ...(fromToml.bindings as Record<string, string>), ...opts.vars },
    cronTriggers: [],
    unsafeDirectSockets: [{ host: "127.0.0.1", port: productPort }],
  };
  delete (product as Record<string, unknown>).modulesRules;
  delete (product as Record<string, unknown>).rootPath;
  const baseline = {
    name: "baseline",
    compatibilityDate: fromToml.compatibilityDate,
    compatibilityFlags: fromToml.compatibilityFlags,
    modules: [
      {
        type: "ESModule",
        path: resolve(dirname(opts.script), "baseline.js"),
        contents: 'export default { fetch() { return new Response("ok"); } };',
      },
    ],
    unsafeDirectSockets: [{ host: "127.0.0.1", port: baselinePort }],
  };
  mkdirSync(opts.persistDir, { recursive: true });
  const before = childPids();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      log: new Log(LogLevel.NONE ?? 0),
      handleStructuredLogs: (l: { level: string; message: string }) => {
        if (logs.length < 5000) logs.push({ level: l.level, message: l.message });
      },
      resourcePersistencePath: opts.persistDir,
      ...(inspectorPort ? { inspectorPort, inspectorHost: "127.0.0.1" } : {}),
      workers: [product, baseline],
    }),
  );
  let disposed: Promise<void> | null = null;
  const dispose = () => {
    disposed ??= mf.dispose();
    return disposed;
  };
  opts.cleanup.add("miniflare", dispose);
  await mf.ready;
  const productUrl = (await mf.unsafeGetDirectURL("tillproof")).toString().replace(/\/$/, "");
  const baselineUrl = (await mf.unsafeGetDirectURL("baseline")).toString().replace(/\/$/, "");
  const workerdPid = [...childPids()].find((p) => !before.has(p) && commOf(p) === "workerd") ?? null;
  const ns = opts.instrumented ? await mf.getDurableObjectNamespace("SHARDS", "tillproof") : null;
  return {
    productUrl,
    baselineUrl,
    workerdPid,
    inspectorPort,
    logs,
    dispose,
    mark: async (shards) => {
      if (!ns) return;
      await Promise.all(
        shards.map((n) =>
          (ns.get(ns.idFromName(`shard-${n}`)) as unknown as { benchMark(): Promise<void> }).benchMark(),
        ),
      );
    },
    tally: async (shards) => {
      if (!ns) return null;
      const out = new Map<number, ShardTally>();
      await Promise.all(
        shards.map(async (n) => {
          const stub = ns.get(ns.idFromName(`shard-${n}`)) as unknown as { benchTally(): Promise<ShardTally> };
          out.set(n, await stub.benchTally());
        }),
      );
      return out;
    },
  };
}

function childPids(): Set<number> {
  return new Set(descendants(process.pid));
}

/** Pids of all descendants of `root` (from /proc). */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const [pid, ppid] of procTable()) parent.set(pid, ppid);
  const out: number[] = [];
  for (const pid of parent.keys()) {
    let p = parent.get(pid);
    for (let hops = 0; p && hops < 20; hops++) {
      if (p === root) {
        out.push(pid);
        break;
      }
      p = parent.get(p);
    }
  }
  return out;
}

function procTable(): [number, number][] {
  const out: [number, number][] = [];
  for (const name of readdirSafe("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readSafe(`/proc/${pid}/stat`);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.push([pid, Number(fields[1])]);
  }
  return out;
}

export function commOf(pid: number): string {
  return (readSafe(`/proc/${pid}/comm`) ?? "").trim();
}

function readSafe(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
