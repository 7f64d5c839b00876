/**
 * `npm run dev`: the whole gateway on this machine. Postgres (embedded unless
 * DATABASE_URL is set) → migrations → the Neon WebSocket tunnel → a witness
 * (unless WITNESSES is set) → wrangler dev with every binding → demo tenant,
 * store and terminal. Ctrl-C stops all of it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import pg from "pg";
import { TerminalClient } from "../clients/terminal/index.ts";
import { configSchema } from "../core/config.ts";
import { demoSale, ensureDemo } from "./lib/demo.ts";
import { localKey } from "./lib/log-key.ts";
import { evenLayout, setUpReceiptsDatabase } from "./lib/stack/databases.ts";
import { applyMigrations } from "./lib/stack/migrate.ts";
import { assertPortFree } from "./lib/stack/ports.ts";
import {
  checkReachable,
  ensureDatabase,
  hostPort,
  type RunningPostgres,
  startEmbeddedPostgres,
} from "./lib/stack/postgres.ts";
import { runtimeUrl } from "./lib/stack/roles.ts";
import { localSettings, QUIET_ENV } from "./lib/stack/settings.ts";
import { startTunnel, type Tunnel } from "./lib/stack/tunnel.ts";
import { type LocalWitness, startWitness } from "./lib/stack/witness.ts";

const ROOT = resolve(import.meta.dirname, "..");
/** Where the local stack keeps its state; TILLPROOF_DATA_DIR moves it (npm run test:upgrade runs two releases on one). */
const DATA = resolve(process.env.TILLPROOF_DATA_DIR ?? resolve(ROOT, ".data"));
const PORT = Number(process.env.PORT ?? 8787);
const PG_PORT = Number(process.env.TILLPROOF_PG_PORT ?? 54329);
const TUNNEL_PORT = Number(process.env.TILLPROOF_TUNNEL_PORT ?? 8789);
const WITNESS_PORT = Number(process.env.WITNESS_PORT ?? 8788);
const OPERATOR_TOKEN = process.env.OPERATOR_TOKEN ?? "dev-operator-token";
const CODE_KEY = process.env.CODE_KEY ?? "dev-code-key-not-for-production";
const BASE = `http://127.0.0.1:${PORT}`;
/** TILLPROOF_DATABASES=2: receipts databases beside the primary (DATABASE_URLS, docs/scale.md §6a), in its server. */
const DATABASES = Number(process.env.TILLPROOF_DATABASES ?? 1);

const say = (line: string) => console.log(`[tillproof] ${line}`);

let pgServer: RunningPostgres | null = null;
let tunnel: Tunnel | null = null;
let wrangler: ChildProcess | null = null;
let witness: LocalWitness | null = null;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say("stopping…");
    if (wrangler?.pid && wrangler.exitCode === null) {
      const exited = new Promise((ok) => wrangler?.once("exit", ok));
      try {
        process.kill(-wrangler.pid, "SIGTERM"); // the whole group: wrangler and its workerd
      } catch {}
      await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
      try {
        process.kill(-wrangler.pid, "SIGKILL");
      } catch {}
    }
    await witness?.dispose().catch(() => {});
    await tunnel?.close();
    await pgServer?.stop();
  }
  process.exit(code);
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

async function waitHealthy(timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < until) {
    if (wrangler?.exitCode !== null) throw new Error("wrangler dev exited before the gateway became healthy");
    try {
      const res = await fetch(`${BASE}/healthz`);
      if (res.ok) return;
      last = `${res.status} ${await res.text()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the gateway did not become healthy in ${timeoutMs / 1000}s (last: ${last})`);
}

async function main(): Promise<void> {
  const started = Date.now();
  await assertPortFree(PORT, "PORT");
  await assertPortFree(TUNNEL_PORT, "TILLPROOF_TUNNEL_PORT");

  let databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    await checkReachable(databaseUrl);
    say(`using DATABASE_URL (${hostPort(databaseUrl)})`);
  } else {
    await assertPortFree(PG_PORT, "TILLPROOF_PG_PORT");
    say(`starting embedded Postgres on 127.0.0.1:${PG_PORT} (data in .data/pg)`);
    pgServer = await startEmbeddedPostgres({ dir: resolve(DATA, "pg"), port: PG_PORT, database: "tillproof" });
    databaseUrl = pgServer.url;
  }
  // Two roles (README: Security): migrations as the owner (MIGRATION_DATABASE_URL, in local dev
  // DATABASE_URL by default), the Worker as tillproof_app unless MIGRATION_DATABASE_URL is given.
  const migrationUrl = process.env.MIGRATION_DATABASE_URL ?? databaseUrl;
  try {
    await applyMigrations(migrationUrl);
  } catch (e) {
    throw new Error(
      `${(e as Error).message}\n  (check MIGRATION_DATABASE_URL / DATABASE_URL, or the migrations/ folder)`,
    );
  }
  const workerUrl = process.env.MIGRATION_DATABASE_URL ? databaseUrl : await runtimeUrl(migrationUrl);
  say(`migrations applied; the Worker connects as ${new URL(workerUrl).username}`);
  const routes = await receiptsDatabases(migrationUrl, workerUrl);

  tunnel = await startTunnel({ target: hostPort(databaseUrl), port: TUNNEL_PORT });

  const logOrigin = process.env.LOG_ORIGIN ?? `localhost:${PORT}/log`;
  const keyName = logOrigin.split("/")[0] ?? "tillproof";
  const logKey = await localKey("LOG_SIGNING_KEY", resolve(DATA, "log-signing-key"), keyName);
  const certKey = await localKey("TERMINAL_CERT_KEY", resolve(DATA, "terminal-cert-key"), `${keyName}-terminals`);
  // Shard state belongs with its database: one folder per DATABASE_URL, and the witness's with it.
  const stateId = pgServer ? "embedded" : createHash("sha256").update(databaseUrl).digest("hex").slice(0, 12);
  // Witnessed out of the box (contract v1.2): our own witness, unless WITNESSES names others.
  if (!process.env.WITNESSES) {
    await assertPortFree(WITNESS_PORT, "WITNESS_PORT");
    const key = await localKey("WITNESS_KEY", resolve(DATA, "witness-key"), `${keyName}-witness`);
    witness = await startWitness({
      key: key.privateKey,
      logs: [{ originPrefix: `${logOrigin}/`, vkey: logKey.verifierKey }],
      port: WITNESS_PORT,
      persistTo: resolve(DATA, "witness", stateId),
    });
    say(`witness at ${witness.url} (${witness.vkey})`);
  }
  // Every documented setting is read from the environment (contract v1.1): the settings' schema is the list.
  const passThrough = Object.keys(configSchema.shape);
  const vars: Record<string, string> = {
    ...localSettings({
      databaseUrl: workerUrl,
      tunnelPort: tunnel.port,
      operatorToken: OPERATOR_TOKEN,
      codeKey: CODE_KEY,
      logOrigin,
      logSigningKey: logKey.privateKey,
      terminalCertKey: certKey.privateKey,
      witnesses: witness?.entry,
    }),
    PUBLIC_BASE_URL: process.env.PUBLIC_BASE_URL ?? BASE,
    ...(routes ? { DATABASE_URLS: JSON.stringify(routes.layouts) } : {}),
    ...Object.fromEntries(passThrough.flatMap((k) => (process.env[k] ? [[k, process.env[k] as string]] : []))),
  };
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(PORT),
    "--persist-to",
    resolve(DATA, "wrangler", stateId),
    "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  wrangler = spawn(resolve(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: ROOT,
    detached: true, // its own process group, so Ctrl-C here stops workerd too
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...process.env,
      ...QUIET_ENV,
      WRANGLER_LOG: process.env.WRANGLER_LOG ?? "warn",
    },
  });
  wrangler.on("exit", (code) => {
    if (!stopping) {
      say(`wrangler dev exited (${code}); stopping`);
      void stopAll(code ?? 1);
    }
  });

  await waitHealthy(90_000);
  const demoFile = resolve(DATA, pgServer ? "demo.json" : `demo-${hostPort(databaseUrl).replace(":", "-")}.json`);
  const saved = existsSync(demoFile) ? JSON.parse(readFileSync(demoFile, "utf8")) : null;
  const demo = await ensureDemo(BASE, OPERATOR_TOKEN, saved);
  writeFileSync(demoFile, JSON.stringify(demo, null, 2));

  // The first receipt goes through the typed terminal client, as a POS vendor would send it.
  const sample = await new TerminalClient({ baseUrl: BASE, token: demo.terminalToken })
    .issueReceipt(demoSale())
    .catch((e: Error) => ({ code: `(could not issue one: ${e.message})`, verifyUrl: "" }));

  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`
  Tillproof is up at ${BASE}  (healthy after ${secs}s)

  Operator token:   ${OPERATOR_TOKEN}
  Demo tenant:      ${demo.tenantId}   key: ${demo.tenantKey}
  Demo terminal:    ${demo.storeId}/${demo.terminalId}   token: ${demo.terminalToken}
  A sample receipt: ${sample.code}  ${sample.verifyUrl}
                    (issued by the terminal client, clients/terminal/; another: npm run receipt)
  Log verifier key: ${logKey.verifierKey}
                    (also at ${BASE}/v1/log/key; the private key is in .data/log-signing-key)
  Witnesses:        ${witness ? `${witness.url}  ${witness.vkey}` : process.env.WITNESSES}
                    (every checkpoint served is cosigned: ${BASE}/v1/log/witnesses)

  Issue a receipt with curl:
    curl -sS ${BASE}/v1/receipts \\
      -H 'authorization: Bearer ${demo.terminalToken}' \\
      -H 'content-type: application/json' \\
      -H "idempotency-key: demo-$(date +%s%N)" \\
      -d '${JSON.stringify(demoSale())}'

  Then open the verifyUrl it prints, or: curl ${BASE}/v1/verify/<code>
  Pipeline: curl -H 'authorization: Bearer ${OPERATOR_TOKEN}' ${BASE}/v1/ops/pipeline
  Console:  ${BASE}/ops  (operator token: ${OPERATOR_TOKEN}); metrics: curl -H 'authorization: Bearer ${OPERATOR_TOKEN}' ${BASE}/metrics
  Audit:    npm run audit -- --database-url '${databaseUrl}' --url ${BASE} --code-key '${CODE_KEY}' --operator-token '${OPERATOR_TOKEN}'${(routes?.owners ?? []).map((u) => ` --receipts-database '${u}'`).join("")}${
    routes
      ? `\n  Databases: ${routes.layouts
          .map((l) => `${l.databases.map((d) => `${d.name} (shards ${d.shards})`).join(", ")} since ${l.since}`)
          .join("; ")}`
      : ""
  }

  Ctrl-C stops everything; data stays in .data/ for the next run.
`);
}

/** Whether the primary holds a receipt received on or after `day` (UTC). */
async function receivedSince(ownerUrl: string, day: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    return Boolean(
      (await client.query("SELECT 1 FROM receipts WHERE received_at >= $1::date::timestamptz LIMIT 1", [day])).rowCount,
    );
  } finally {
    await client.end();
  }
}

type Layouts = { since: string; databases: { name: string; url: string; shards: string }[] }[];

/**
 * With TILLPROOF_DATABASES > 1: receipts databases `tillproof_r1`… in the
 * primary's server, subscribed to its control plane, and the routing table.
 * The layouts are kept in .data/databases.json: a new count starts a new
 * layout the next day, and the days before stay where they were (so going
 * back to one database keeps reading the others).
 */
async function receiptsDatabases(
  ownerUrl: string,
  workerUrl: string,
): Promise<{ layouts: Layouts; owners: string[] } | null> {
  const file = resolve(DATA, "databases.json");
  const kept: Layouts = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Layouts) : [];
  if (!(DATABASES > 1) && !kept.length) return null;
  const shardCount = configSchema.shape.SHARD_COUNT.parse(process.env.SHARD_COUNT);
  const urlOf = (base: string, name: string) => {
    const u = new URL(base);
    if (name !== "primary") u.pathname = `${new URL(ownerUrl).pathname}_${name}`;
    return u.toString();
  };
  const wanted = ["primary", ...Array.from({ length: Math.max(0, DATABASES - 1) }, (_, i) => `r${i + 1}`)];
  const databases = evenLayout(
    shardCount,
    wanted.map((name) => ({ name, url: urlOf(workerUrl, name) })),
  );
  const last = kept.at(-1);
  if (JSON.stringify(last?.databases) !== JSON.stringify(databases)) {
    // A layout starts tomorrow, so no receipt of a day under way is split between two databases
    // (the first one today if the primary has none of today yet). Changed twice in a day: the
    // pending one is replaced.
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const since = kept.length || (await receivedSince(ownerUrl, day(0))) ? day(1) : day(0);
    if (last?.since === since) kept.pop();
    kept.push({ since, databases });
    writeFileSync(file, JSON.stringify(kept, null, 2));
  }
  const names = [...new Set(kept.flatMap((l) => l.databases.map((d) => d.name)))].filter((n) => n !== "primary");
  for (const name of names) {
    await ensureDatabase(ownerUrl, new URL(urlOf(ownerUrl, name)).pathname.slice(1));
    await setUpReceiptsDatabase(ownerUrl, urlOf(ownerUrl, name), name);
  }
  say(`${wanted.length} database(s): ${databases.map((d) => `${d.name} (shards ${d.shards})`).join(", ")}`);
  return { layouts: kept, owners: names.map((n) => urlOf(ownerUrl, n)) };
}

main().catch(async (e: Error) => {
  console.error(`\n[tillproof] ${e.message}\n`);
  await stopAll(1);
});
