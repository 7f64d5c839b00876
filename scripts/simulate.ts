/**
 * `npm run simulate`: point-of-sale terminals against a running gateway
 * (`npm run dev` by default). It creates its own tenants, stores and terminals
 * through the API, then sends realistic sales at a target rate for a bounded
 * time: online terminals POST /v1/receipts one sale at a time, offline ones
 * POST /v1/receipts/batch with 5–20 sales; every sale has its own
 * Idempotency-Key, and a few are deliberately sent twice (expect 200, the same
 * answer). A line per second shows progress; a summary follows.
 *
 *   npm run simulate -- --rate 200 --duration 10 --stores 8 --terminals 16 --offline-share 0.1
 *   npm run simulate -- --backfill-days 28 --duration 5   # weeks of history for the dashboard
 */
import { parseArgs } from "node:util";
import { backfill } from "./lib/backfill.ts";
import { type Fleet, setupFleet, type Terminal } from "./lib/bench/fleet.ts";
import { type LoadResult, runLoad } from "./lib/bench/load.ts";
import { rng, SalePool } from "./lib/bench/receipts.ts";
import { refundBody, voidBody } from "./lib/returns.ts";

const HELP = `npm run simulate -- [options]

  --url URL               gateway origin (default $TILLPROOF_URL or http://127.0.0.1:$PORT|8787)
  --operator-token TOKEN  operator bearer token (default $OPERATOR_TOKEN or dev-operator-token)
  --tenants T             tenants to create (default 2)
  --stores M              stores, spread over the tenants (default 8)
  --terminals N           terminals, spread over the stores (default 16)
  --rate R                target receipts per second, all terminals together (default 100)
  --duration S            seconds of load, 1–300 (default 10)
  --offline-share F       fraction of terminals that are offline and send batches of 5–20 (default 0.1)
  --retry-share F         fraction of single sales sent twice with the same key (default 0.02)
  --refund-share F        refunds per single sale (default 0.03): some partial, a third at another store of the tenant
  --void-share F          voids per single sale (default 0.005), from the sale's own terminal
  --seed N                seed for the generated sales (default 1)
  --backfill-days D       first send D days of past sales per store (0–90, default 0), for the dashboard
  --backfill-per-day N    past sales per store and day, on average (default 120)
  --allow-remote          allow a non-loopback --url (off: this is a load generator)
`;

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    "operator-token": { type: "string" },
    tenants: { type: "string", default: "2" },
    stores: { type: "string", default: "8" },
    terminals: { type: "string", default: "16" },
    rate: { type: "string", default: "100" },
    duration: { type: "string", default: "10" },
    "offline-share": { type: "string", default: "0.1" },
    "retry-share": { type: "string", default: "0.02" },
    "refund-share": { type: "string", default: "0.03" },
    "void-share": { type: "string", default: "0.005" },
    seed: { type: "string", default: "1" },
    "backfill-days": { type: "string", default: "0" },
    "backfill-per-day": { type: "string", default: "120" },
    "allow-remote": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

function num(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    console.error(`--${name} must be a number from ${min} to ${max} (got ${value})\n\n${HELP}`);
    process.exit(2);
  }
  return n;
}

const base = (args.url ?? process.env.TILLPROOF_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`).replace(
  /\/+$/,
  "",
);
const operatorToken = args["operator-token"] ?? process.env.OPERATOR_TOKEN ?? "dev-operator-token";
const tenants = Math.floor(num("tenants", args.tenants, 1, 1000));
const stores = Math.floor(num("stores", args.stores, 1, 10_000));
const terminalsWanted = Math.floor(num("terminals", args.terminals, 1, 50_000));
const rate = num("rate", args.rate, 1, 100_000);
const duration = num("duration", args.duration, 1, 300);
const offlineShare = num("offline-share", args["offline-share"], 0, 1);
const retryShare = num("retry-share", args["retry-share"], 0, 0.5);
const seed = Math.floor(num("seed", args.seed, 0, 2 ** 31));
const backfillDays = Math.floor(num("backfill-days", args["backfill-days"], 0, 90));
const backfillPerDay = Math.floor(num("backfill-per-day", args["backfill-per-day"], 1, 5_000));

const host = new URL(base).hostname;
if (!args["allow-remote"] && !["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) {
  console.error(`refusing to load ${base}: not a loopback address (pass --allow-remote if you mean it)`);
  process.exit(2);
}

const say = (line: string) => console.log(`[simulate] ${line}`);

/** The gateway answers, and the options make sense together. */
async function checkGateway(): Promise<void> {
  try {
    const health = await fetch(`${base}/healthz`);
    if (!health.ok) say(`warning: /healthz answered ${health.status}`);
  } catch (e) {
    throw new Error(`cannot reach ${base} (${(e as Error).message}); start it with npm run dev`);
  }
  if (stores < tenants) throw new Error("--stores must be at least --tenants");
  if (terminalsWanted < stores) throw new Error("--terminals must be at least --stores");
}

/** Tenants, stores and terminals through the API, and weeks of past sales when asked. */
async function setUp(prefix: string): Promise<Fleet> {
  const t0 = Date.now();
  const fleet = await setupFleet({ base, operatorToken, prefix, tenants, stores, terminals: terminalsWanted });
  say(
    `set up ${tenants} tenants, ${stores} stores, ${fleet.terminals.length} terminals on ${fleet.shards.length} shards through the API in ${((Date.now() - t0) / 1000).toFixed(1)} s (ids ${prefix}-*)`,
  );
  if (backfillDays > 0) {
    const t1 = Date.now();
    const n = await backfill({
      base,
      terminals: fleet.terminals,
      zones: fleet.zones,
      days: backfillDays,
      perDay: backfillPerDay,
      prefix,
      say,
    });
    const first = fleet.tenants[0];
    say(`backfilled ${n} past sales in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    if (first) say(`dashboard: ${base}/dashboard with tenant ${first.id} and key ${first.key}`);
  }
  return fleet;
}

type Tally = {
  created: number;
  replayed: number;
  retriesSent: number;
  refunds: number;
  voids: number;
  retryReplayed: number;
  retryOther: number;
  batches: number;
  batchEntries: number;
  entryStatus: Record<string, number>;
  errors: Record<string, number>;
};

/** What the two loads share: the sales, the numbering, what was issued (for refunds and voids) and the tally. */
function traffic(fleet: Fleet, prefix: string) {
  const pool = new SalePool(4096, seed);
  const r = rng(seed + 1);
  let sent = 0;
  const recent: { t: Terminal; key: string; body: string }[] = [];
  // Sales in flight (by their key) and sales issued (with their code), for refunds and voids.
  const inFlight = new Map<string, { t: Terminal; body: string }>();
  const issued: { t: Terminal; code: string; body: string }[] = [];
  const refundShare = num("refund-share", args["refund-share"], 0, 0.5);
  const voidShare = num("void-share", args["void-share"], 0, 0.5);
  const tally: Tally = {
    created: 0,
    replayed: 0,
    retriesSent: 0,
    refunds: 0,
    voids: 0,
    retryReplayed: 0,
    retryOther: 0,
    batches: 0,
    batchEntries: 0,
    entryStatus: {},
    errors: {},
  };
  const returnRequest = () => {
    const roll = r();
    if (issued.length < 20 || roll >= refundShare + voidShare) return null;
    const isVoid = roll >= refundShare;
    // A void is of one of the newest sales (inside the window); a refund of any sale still remembered.
    const at = isVoid ? issued.length - 1 - Math.floor(r() * 5) : Math.floor(r() * issued.length);
    const [s] = issued.splice(at, 1);
    if (!s) return null;
    const sameTenant = fleet.terminals.filter((x) => x.tenantId === s.t.tenantId);
    const from = isVoid || r() >= 1 / 3 ? s.t : (sameTenant[Math.floor(r() * sameTenant.length)] ?? s.t);
    const body = isVoid ? voidBody(s.body, s.code) : refundBody(s.body, s.code, r(), r() < 0.6);
    return {
      method: "POST" as const,
      path: "/v1/receipts",
      headers: {
        authorization: `Bearer ${from.token}`,
        "content-type": "application/json",
        "idempotency-key": `${prefix}-${isVoid ? "void" : "refund"}-${++sent}`,
      },
      body: JSON.stringify(body),
      tag: isVoid ? "void" : "refund",
    };
  };
  const noteError = (status: number, body: string) => {
    let code = String(status);
    try {
      code = `${status} ${(JSON.parse(body) as { error?: { code?: string } }).error?.code ?? ""}`.trim();
    } catch {}
    tally.errors[code] = (tally.errors[code] ?? 0) + 1;
  };
  const started = Date.now();
  const receiptsPerSec = () => {
    const secs = (Date.now() - started) / 1000;
    return secs > 0 ? `  ~${Math.round((tally.created + tally.replayed) / secs)} receipts/s` : "";
  };
  return {
    pool,
    r,
    prefix,
    recent,
    inFlight,
    issued,
    tally,
    returnRequest,
    noteError,
    receiptsPerSec,
    nextNumber: () => ++sent,
  };
}
type Traffic = ReturnType<typeof traffic>;

/** Online terminals: single sales, some sent twice with their key, and refunds and voids of what was issued. */
function onlineLoad(x: Traffic, online: Terminal[], onlineRate: number): Promise<LoadResult> {
  const { pool, r, prefix, recent, inFlight, issued, tally, returnRequest, noteError } = x;
  return runLoad({
    label: `online (${online.length} terminals)`,
    url: base,
    connections: Math.min(64, Math.max(4, Math.ceil(onlineRate / 25))),
    durationSec: duration,
    rate: onlineRate,
    maxRequests: Math.ceil(onlineRate * duration * 1.2) + 10,
    next: () => {
      const back = returnRequest();
      if (back) return back;
      if (recent.length > 50 && r() < retryShare) {
        const again = recent[Math.floor(r() * recent.length)] as (typeof recent)[number];
        return {
          method: "POST",
          path: "/v1/receipts",
          headers: {
            authorization: `Bearer ${again.t.token}`,
            "content-type": "application/json",
            "idempotency-key": again.key,
          },
          body: again.body,
          tag: "retry",
        };
      }
      const t = online[Math.floor(r() * online.length)] as Terminal;
      const n = x.nextNumber();
      const key = `${prefix}-${n}`;
      const body = pool.body(n, Date.now() - Math.floor(r() * 3000));
      if (recent.length < 512) recent.push({ t, key, body });
      else recent[n % 512] = { t, key, body };
      inFlight.set(key, { t, body });
      return {
        method: "POST",
        path: "/v1/receipts",
        headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json", "idempotency-key": key },
        body,
        tag: `one ${key}`,
      };
    },
    onBody: (status, body, tag) => {
      if (tag === "refund" || tag === "void") {
        if (status === 201) tally[tag === "refund" ? "refunds" : "voids"]++;
        else noteError(status, body);
        return;
      }
      if (tag?.startsWith("one ")) {
        const key = tag.slice(4);
        const s = inFlight.get(key);
        inFlight.delete(key);
        if (s && status === 201 && issued.length < 2048) {
          issued.push({ ...s, code: (JSON.parse(body) as { code: string }).code });
        }
      }
      if (tag === "retry") {
        tally.retriesSent++;
        if (status === 200) tally.retryReplayed++;
        else if (status === 201) tally.created++;
        else tally.retryOther++;
        if (status === 200) tally.replayed++;
        else if (status !== 201) noteError(status, body);
        return;
      }
      if (status === 201) tally.created++;
      else if (status === 200) tally.replayed++;
      else noteError(status, body);
    },
    live: console.log,
    liveExtra: x.receiptsPerSec,
  });
}

/** Offline terminals: batches of 5–20 sales made minutes to hours ago. */
function offlineLoad(x: Traffic, offline: Terminal[], batchRate: number): Promise<LoadResult> {
  const { pool, r, prefix, tally, noteError } = x;
  return runLoad({
    label: `offline (${offline.length} terminals)`,
    url: base,
    connections: Math.min(16, Math.max(1, Math.ceil(batchRate / 10))),
    durationSec: duration,
    rate: batchRate,
    maxRequests: Math.ceil(batchRate * duration * 1.2) + 5,
    next: () => {
      const t = offline[Math.floor(r() * offline.length)] as Terminal;
      const n = 5 + Math.floor(r() * 16);
      // Sales made while the terminal was offline: minutes to a few hours ago.
      const since = Date.now() - Math.floor((5 + r() * 175) * 60_000);
      const entries: string[] = [];
      for (let i = 0; i < n; i++) {
        const number = x.nextNumber();
        const key = `${prefix}-${number}`;
        entries.push(pool.entry(number, key, since + i * Math.floor(20_000 + r() * 60_000)));
      }
      return {
        method: "POST",
        path: "/v1/receipts/batch",
        headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json" },
        body: `{"receipts":[${entries.join(",")}]}`,
        tag: "batch",
      };
    },
    onBody: (status, body) => {
      if (status !== 200) return noteError(status, body);
      tally.batches++;
      const results = (JSON.parse(body) as { results: { status: number; error?: { code?: string } }[] }).results;
      for (const e of results) {
        tally.batchEntries++;
        tally.entryStatus[e.status] = (tally.entryStatus[e.status] ?? 0) + 1;
        if (e.status === 201) tally.created++;
        else if (e.status === 200) tally.replayed++;
        else {
          const code = `entry ${e.status} ${e.error?.code ?? ""}`.trim();
          tally.errors[code] = (tally.errors[code] ?? 0) + 1;
        }
      }
    },
    live: console.log,
    liveExtra: x.receiptsPerSec,
  });
}

type Totals = { issued: number; persisted: number; unpersisted: number; oldestUnpersistedAgeMs: number };

/** The pipeline a moment later: how much of it reached Postgres (bounded wait). */
async function pipelineSoon(): Promise<Totals | null> {
  let pipeline: Totals | null = null;
  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${base}/v1/ops/pipeline`, { headers: { authorization: `Bearer ${operatorToken}` } });
    if (!res.ok) break;
    const totals: Totals = ((await res.json()) as { totals: Totals }).totals;
    pipeline = totals;
    if (totals.unpersisted === 0) break;
    await new Promise((ok) => setTimeout(ok, 500));
  }
  return pipeline;
}

/** Prints the summary; true when anything went wrong. */
function summarise(results: LoadResult[], tally: Tally, pipeline: Totals | null): boolean {
  const elapsed = Math.max(...results.map((x) => x.durationSec));
  console.log("\n  Summary");
  for (const x of results) {
    console.log(
      `  ${x.label.padEnd(26)} ${x.requests} requests in ${x.durationSec} s = ${x.rps} req/s (target ${x.targetRate}/s); latency p50 ${x.latencyMs.p50} ms, p95 ${x.latencyMs.p95} ms, p99 ${x.latencyMs.p99} ms, max ${x.latencyMs.max} ms; status ${JSON.stringify(x.status)}${x.errors ? `; ${x.errors} connection errors` : ""}`,
    );
  }
  console.log(
    `  receipts                   ${tally.created} issued (201) + ${tally.replayed} replayed (200) = ${((tally.created + tally.replayed) / elapsed).toFixed(1)} receipts/s (target ${rate}/s)`,
  );
  console.log(
    `  refunds and voids          ${tally.refunds} refunds (some partial, some at another store), ${tally.voids} voids`,
  );
  console.log(
    `  deliberate retries         ${tally.retriesSent} sent, ${tally.retryReplayed} answered 200 (identical replay), ${tally.retriesSent - tally.retryReplayed - tally.retryOther} answered 201 (original still in flight), ${tally.retryOther} other`,
  );
  if (tally.batches) {
    console.log(
      `  offline batches            ${tally.batches} batches, ${tally.batchEntries} entries, entry statuses ${JSON.stringify(tally.entryStatus)}`,
    );
  }
  const errs = Object.entries(tally.errors);
  console.log(`  errors                     ${errs.length ? errs.map(([k, v]) => `${k}: ${v}`).join(", ") : "none"}`);
  if (pipeline) {
    console.log(
      `  pipeline (all shards)      issued ${pipeline.issued}, persisted ${pipeline.persisted}, unpersisted ${pipeline.unpersisted}, oldest unpersisted ${pipeline.oldestUnpersistedAgeMs} ms`,
    );
  }
  return errs.length > 0 || results.some((x) => x.errors > 0) || tally.retryOther > 0;
}

async function main(): Promise<void> {
  await checkGateway();
  const prefix = `sim-${Date.now().toString(36)}`;
  const fleet = await setUp(prefix);
  // Offline terminals are the last share of the list (at least one when the share is > 0).
  const offlineCount = offlineShare > 0 ? Math.max(1, Math.round(fleet.terminals.length * offlineShare)) : 0;
  const online = fleet.terminals.slice(0, fleet.terminals.length - offlineCount);
  const offline = fleet.terminals.slice(fleet.terminals.length - offlineCount);
  // Receipts/s split like the terminals; a batch carries 12.5 sales on average.
  const offlineReceiptRate = online.length ? rate * (offlineCount / fleet.terminals.length) : rate;
  const onlineRate = Math.max(online.length ? 1 : 0, Math.round(rate - offlineReceiptRate));
  const batchRate = offlineCount ? Math.max(1, Math.round(offlineReceiptRate / 12.5)) : 0;
  const x = traffic(fleet, prefix);
  const runs: Promise<LoadResult>[] = [];
  if (online.length && onlineRate > 0) runs.push(onlineLoad(x, online, onlineRate));
  if (offline.length && batchRate > 0) runs.push(offlineLoad(x, offline, batchRate));
  say(
    `sending ~${rate} receipts/s for ${duration} s: ${onlineRate} single/s from ${online.length} online terminals, ${batchRate} batches/s (5–20 each) from ${offline.length} offline terminals, ${(retryShare * 100).toFixed(1)} % of singles retried`,
  );
  const results = await Promise.all(runs);
  process.exitCode = summarise(results, x.tally, await pipelineSoon()) ? 1 : 0;
}

main().catch((e: Error) => {
  console.error(`[simulate] ${e.message}`);
  process.exit(1);
});
