/**
 * The whole gateway for the tests and the tools (chaos, bench:witness), in this Node process: a real
 * Postgres (embedded in its own folder, or TEST_DATABASE_URL / DATABASE_URL) with
 * a fresh database, the Neon WebSocket tunnel, and the Worker served over HTTP by
 * wrangler's `unstable_startWorker` (workerd with every binding, the queue
 * consumer included, storage in memory). Nothing of `npm run dev`'s .data/pg or
 * .data/wrangler is touched.
 *
 * Not wrangler's createTestHarness: it sends the Worker's outbound traffic
 * through Node's fetch, which cannot open the WebSocket the Neon driver needs.
 */
import { resolve } from "node:path";
import pg from "pg";
import { generateSigningKey } from "../../../tlog/note.ts";
import { Cleanup } from "./cleanup.ts";
import { evenLayout, setUpReceiptsDatabase, tearDownReceiptsDatabase } from "./databases.ts";
import { applyMigrations } from "./migrate.ts";
import { freePort } from "./ports.ts";
import { hostPort, type RunningPostgres, startEmbeddedPostgres } from "./postgres.ts";
import { runtimeUrl } from "./roles.ts";
import { localSettings, QUICK_SETTINGS } from "./settings.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";
import { startTunnel, type Tunnel } from "./tunnel.ts";
import { type LocalWitness, startWitness } from "./witness.ts";
import { startLocalWorker } from "./worker.ts";

export const OPERATOR_TOKEN = "browser-test-operator-token";
export const CODE_KEY = "browser-test-code-key";

const ROOT = resolve(import.meta.dirname, "../../..");

export type Stack = {
  /** Where the Worker listens, e.g. http://127.0.0.1:41234 (no trailing slash). */
  baseUrl: string;
  /** The stack's database as its owner (the Worker runs as the runtime role), for tools such as the audit. */
  databaseUrl: string;
  /** Runs SQL against the stack's database as the Postgres superuser. */
  sql: <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;
  /** The Worker's console output so far, for diagnosing a failure. */
  logs: () => string[];
  /** Makes Postgres unreachable for the Worker (its tunnel refuses and cuts connections), or reachable again. */
  postgresDown: (down: boolean) => void;
  /** With `postgresProxy`: the TCP proxy between the tunnel and Postgres (refuse, black-hole, count connections). */
  postgresProxy: TcpProxy | null;
  /** With `witness`: the shipped witness the gateway submits its checkpoints to (WITNESSES). */
  witness: LocalWitness | null;
  /** The log's signing key (LOG_SIGNING_KEY), for tests that play an operator who signs a forged tree. */
  logSigningKey: string;
  /** SHARD_COUNT as the Worker runs with it. */
  shardCount: number;
  /** With `receiptsDatabases`: the databases beside the primary, each behind its own TCP proxy (down: that one only). */
  receiptsDatabases: ReceiptsDatabase[];
  stop: () => Promise<void>;
};

export type ReceiptsDatabase = {
  name: string;
  /** Its shards, as DATABASE_URLS names them. */
  shards: string;
  /** The owner's URL. */
  databaseUrl: string;
  proxy: TcpProxy;
  sql: <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;
};

/**
 * `chaos`: run the chaos entry (scripts/lib/chaos/entry.ts), whose POST /v1/ops/faults arms faults, for `npm run chaos`.
 * `vars`: more settings (core/config.ts), e.g. ALLOW_INSECURE_WEBHOOKS.
 */
export async function startStack(
  opts: {
    chaos?: boolean;
    vars?: Record<string, string>;
    postgresProxy?: boolean;
    witness?: boolean;
    /** A folder for the Worker's local storage (R2, KV, Durable Objects), for tests that edit it as an insider. */
    persistTo?: string;
    /**
     * Receipts databases beside the primary (DATABASE_URLS): the shards split evenly, the primary
     * keeping the first part, from a day long past (so every receipt today is routed by it).
     */
    receiptsDatabases?: number;
  } = {},
): Promise<Stack> {
  const cleanup = new Cleanup();
  const stop = () => cleanup.run((line) => console.error(`stack ${line}`));
  try {
    let server: RunningPostgres | null = null;
    const extra = opts.receiptsDatabases ?? 0;
    // Several databases need logical replication, which the embedded server has and a given one may not.
    let adminUrl = extra ? undefined : (process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL);
    if (!adminUrl) {
      // Its own folder: the integration tests' server may be running at the same time.
      server = await startEmbeddedPostgres({
        dir: resolve(ROOT, ".data/test-pg-browser"),
        port: await freePort(),
        database: "postgres",
        ephemeral: true,
      });
      cleanup.add("embedded Postgres", () => server?.stop() ?? Promise.resolve());
      adminUrl = server.url;
    }
    const database = `tillproof_browser_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    cleanup.add("admin connection", () => admin.end());
    await admin.query(`CREATE DATABASE ${database}`);
    cleanup.add("test database", () => admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const databaseUrl = url.toString();
    await applyMigrations(databaseUrl);
    let workerUrl = await runtimeUrl(databaseUrl);
    let proxy: TcpProxy | null = null;
    if (opts.postgresProxy) {
      const target = new URL(databaseUrl);
      const p = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      proxy = p;
      cleanup.add("Postgres proxy", () => p.close());
      const viaProxy = new URL(workerUrl);
      viaProxy.port = String(p.port);
      workerUrl = viaProxy.toString();
    }

    const receiptsDatabases: ReceiptsDatabase[] = [];
    const urls: { name: string; url: string }[] = extra ? [{ name: "primary", url: workerUrl }] : [];
    for (let i = 1; i <= extra; i++) {
      const name = `r${i}`;
      await admin.query(`CREATE DATABASE ${database}_${name}`);
      const owner = new URL(databaseUrl);
      owner.pathname = `/${database}_${name}`;
      cleanup.add(`receipts database ${name}`, () =>
        admin.query(`DROP DATABASE IF EXISTS ${database}_${name} WITH (FORCE)`),
      );
      await setUpReceiptsDatabase(databaseUrl, owner.toString(), name);
      cleanup.add(`${name}'s subscription`, () => tearDownReceiptsDatabase(databaseUrl, owner.toString(), name));
      const p = await startTcpProxy({ host: owner.hostname, port: Number(owner.port || 5432) });
      cleanup.add(`${name}'s proxy`, () => p.close());
      const runtime = new URL(await runtimeUrl(owner.toString()));
      runtime.port = String(p.port);
      urls.push({ name, url: runtime.toString() });
      const rPool = new pg.Pool({ connectionString: owner.toString(), max: 2 });
      cleanup.add(`${name}'s pool`, () => rPool.end());
      receiptsDatabases.push({
        name,
        shards: "",
        databaseUrl: owner.toString(),
        proxy: p,
        sql: async <T>(text: string, params: unknown[] = []) => (await rPool.query(text, params)).rows as T[],
      });
    }
    const layout = evenLayout(Number(opts.vars?.SHARD_COUNT ?? QUICK_SETTINGS.SHARD_COUNT), urls);
    for (const d of receiptsDatabases) d.shards = layout.find((l) => l.name === d.name)?.shards ?? "";

    const tunnel: Tunnel = await startTunnel({
      target: [workerUrl, ...layout.map((d) => d.url)].map(hostPort),
      port: 0,
    });
    cleanup.add("tunnel", () => tunnel.close());

    const logKey = await generateSigningKey("browser.test");
    let witness: LocalWitness | null = null;
    if (opts.witness) {
      const w = await startWitness({
        key: (await generateSigningKey("witness.browser.test")).privateKey,
        logs: [{ originPrefix: "browser.test/log/", vkey: logKey.verifierKey }],
      });
      witness = w;
      cleanup.add("witness", () => w.dispose());
    }
    const vars: Record<string, string> = {
      ...localSettings({
        databaseUrl: workerUrl,
        tunnelPort: tunnel.port,
        operatorToken: OPERATOR_TOKEN,
        codeKey: CODE_KEY,
        logOrigin: "browser.test/log",
        logSigningKey: logKey.privateKey,
        terminalCertKey: (await generateSigningKey("browser.test-terminals")).privateKey,
        witnesses: witness?.entry,
      }),
      ...QUICK_SETTINGS,
      ...(layout.length ? { DATABASE_URLS: JSON.stringify([{ since: "2000-01-01", databases: layout }]) } : {}),
      ...opts.vars,
    };
    const logs: string[] = [];
    const worker = await startLocalWorker(
      vars,
      (line) => logs.push(line),
      opts.chaos ? resolve(ROOT, "scripts/lib/chaos/entry.ts") : undefined,
      { persistTo: opts.persistTo },
    );
    cleanup.add("Worker", () => worker.dispose());
    const listening = worker.url;

    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    cleanup.add("pool", () => pool.end());
    return {
      baseUrl: listening.origin,
      databaseUrl,
      logs: () => [...logs],
      postgresDown: (down) => tunnel.setDown(down),
      postgresProxy: proxy,
      witness,
      logSigningKey: logKey.privateKey,
      shardCount: Number(vars.SHARD_COUNT),
      receiptsDatabases,
      sql: async <T>(text: string, params: unknown[] = []) => (await pool.query(text, params)).rows as T[],
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** What `npm run audit` (scripts/audit.ts runAudit) needs to check this stack. */
export const auditTarget = (stack: Stack) => ({
  databaseUrl: stack.databaseUrl,
  receiptsDatabaseUrls: stack.receiptsDatabases.map((d) => d.databaseUrl),
  url: stack.baseUrl,
  codeKey: CODE_KEY,
  shardCount: stack.shardCount,
});

/** One JSON call to a running stack, as a client would make it: status, raw text and parsed body. */
export async function callStack(
  stack: Pick<Stack, "baseUrl">,
  method: string,
  path: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; body: Record<string, string> }> {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: (text.startsWith("{") ? JSON.parse(text) : {}) as Record<string, string> };
}

/** A tenant with a store "main" and a terminal "till-1", made through the API; the terminal's token. */
export async function stackTerminal(stack: Pick<Stack, "baseUrl">, tenantId: string, name: string): Promise<string> {
  const t = await callStack(stack, "POST", "/v1/tenants", OPERATOR_TOKEN, { id: tenantId, name });
  const apiKey = t.body.apiKey ?? "";
  await callStack(stack, "PUT", `/v1/tenants/${tenantId}/stores/main`, apiKey, {
    name: "Main",
    timezone: "Europe/Berlin",
  });
  const r = await callStack(stack, "POST", `/v1/tenants/${tenantId}/stores/main/terminals`, apiKey, { id: "till-1" });
  if (r.status !== 201 || !r.body.token) throw new Error(`terminal: ${r.status} ${r.text}`);
  return r.body.token;
}
