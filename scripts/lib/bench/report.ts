/**
 * The bench's results: the cost model applied to what the phases measured,
 * the targets with PASS/MISS, the printed table and the JSON file.
 */
import { config } from "../../../core/config.ts";
import { type CostInputs, markRowsPerReceipt, priceReceipts } from "./cost.ts";
import type { CpuSplit } from "./cpu.ts";
import type { LoadResult } from "./load.ts";
import type { ChannelResult } from "./phases/channel.ts";
import type { IssuanceResult } from "./phases/issuance.ts";
import type { persistence } from "./phases/persistence.ts";
import { PLAN, type productionRates, type RateResult } from "./phases/production-rates.ts";
import type { Profiled } from "./phases/profiled.ts";
import type { RefundsResult } from "./phases/refunds.ts";
import type { SecondWorkerd } from "./phases/second-workerd.ts";
import type { verifyPersisted } from "./phases/verify.ts";
import { ASSUMPTIONS, PRICES } from "./prices.ts";
import { money, type Phase, round, type TallySum, tallyDelta } from "./run.ts";
import type { WorkerLog } from "./stack.ts";

/** Figures of an earlier run (`--against`), for the "not lower than before" targets. */
export type Before = { satMulti: number; satSingle: number; batch: number; p50: number; p99: number; file: string };

export type Measured = {
  stamp: string;
  options: Record<string, unknown>;
  shards: number[];
  meanSaleBytes: number;
  issuance: IssuanceResult;
  rates: Awaited<ReturnType<typeof productionRates>>;
  persistence: Awaited<ReturnType<typeof persistence>>;
  verify: Awaited<ReturnType<typeof verifyPersisted>>;
  refunds: RefundsResult;
  channel: ChannelResult;
  profile: Profiled;
  profiledState: string;
  other: SecondWorkerd | null;
  bytesPerRow: number;
  postgresExternal: boolean;
  before: Before | null;
  logs: { level: string; message: string }[];
};

const perR = (x: number, R: number) => x / Math.max(1, R);
const calls = (d: TallySum | null, m: string) => d?.methods[m]?.calls ?? 0;
const IDEM_CAUSE = "idempotency runs (at marks, and their expiry)";

/** Cost inputs for one phase's counts (the 50 % phase's CPU, duration and Postgres figures are reused). */
function inputsFor(
  m: Measured,
  o: {
    receipts: number;
    delta: TallySum | null;
    messages: number;
    consumerInvocations: number;
    perShardRate: number;
    /** Over the terminal channel: no Worker request per receipt, a message at 1/20 of a DO request. */
    channel?: Phase;
  },
): { inputs: CostInputs; rows: Record<string, number> } | null {
  const { delta, receipts: R } = o;
  if (!delta) return null;
  const w = m.issuance.window;
  const half = m.issuance.half.load;
  const HR = Math.max(1, w.receipts);
  const messages = calls(delta, "webSocketMessage");
  const doCalls = perR(
    calls(delta, "issue") + messages / 20 + calls(delta, "alarm") + calls(delta, "markPersisted"),
    R,
  );
  const idemPerKey = m.rates.mark ? perR(m.rates.mark.byCause[IDEM_CAUSE] ?? 0, m.rates.mark.keys) : 0;
  const marks = markRowsPerReceipt({ idemRowsPerKey: idemPerKey, perShardRate: o.perShardRate, shards: PLAN.shards });
  const rows: Record<string, number> = {};
  for (const [k, v] of Object.entries(delta.causes)) if (v > 0) rows[k] = perR(v, R);
  rows[`${IDEM_CAUSE}, per key measured`] = marks.idempotency;
  rows["store heads (at marks) [A]"] = marks.heads;
  const rowsWritten = Object.values(rows).reduce((t, v) => t + v, 0);
  const receiptsPerMessage = R / Math.max(1, o.messages);
  const messageBytes = receiptsPerMessage * (m.meanSaleBytes + 480) + 64; // record ≈ sale + ids, times and hashes
  const opsPerMessage = 3 * Math.max(1, Math.ceil(messageBytes / 65_536));
  const rowsRead = Object.values(delta.methods).reduce((t, v) => t + v.rowsRead, 0);
  return {
    rows,
    inputs: {
      httpRequests: o.channel ? 0 : 1,
      consumerInvocations: o.consumerInvocations,
      workerdCpuMs: ((w.cpu.workerd / 100) * w.cpu.seconds * 1000) / HR,
      doCalls,
      doCallsBasis: `${o.channel ? `channel messages ${round(perR(messages, R), 3)} ÷ 20` : `issue ${round(perR(calls(delta, "issue"), R), 3)}`}, alarms ${round(perR(calls(delta, "alarm"), R), 3)}, markPersisted ${round(perR(calls(delta, "markPersisted"), R), 3)}`,
      doEventSec: o.channel ? o.channel.load.latencyMs.p50 / 1000 : (half.latencyMs.p50 / 1000) * doCalls,
      rowsWritten,
      rowsWrittenBasis: Object.entries(rows)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${round(v, 3)}`)
        .join(", "),
      rowsRead: perR(rowsRead, R),
      queueMessages: perR(o.messages, R),
      opsPerMessage,
      queueBasis: `${round(perR(o.messages, R), 4)} messages per receipt (${round(receiptsPerMessage, 1)} receipts each, ≈ ${round(messageBytes / 1024, 1)} KB) × ${opsPerMessage} ops`,
      postgresCpuMs: ((w.cpu.postgres / 100) * w.cpu.seconds * 1000) / HR,
      postgresBytesPerRow: m.bytesPerRow,
    },
  };
}

/** Each measured point (50 % load, the production rates, the channel's) with its cost inputs and its price. */
function pricedPoints(m: Measured) {
  const { issuance: is, rates } = m;
  const w = is.window;
  const halfDelta = tallyDelta(w.tally[0], w.tally[1]);
  const halfMessages = w.pipeline[1].messagesSent - w.pipeline[0].messagesSent;
  const halfShardRate = is.halfRate / Math.max(1, m.shards.length);
  const points = [
    {
      name: `50 % load (${is.halfRate}/s on ${m.shards.length} shards: ${round(halfShardRate, 1)}/s each)`,
      short: "50 % load",
      c: inputsFor(m, {
        receipts: w.receipts,
        delta: halfDelta,
        messages: halfMessages,
        consumerInvocations: perR(Number(w.lag.inserts), w.receipts),
        perShardRate: halfShardRate,
      }),
      rate: null as RateResult | null,
    },
    ...[rates.sustained, rates.peak].map((r) => ({
      name: `${r.label.replace("issue @", "")} (${round(r.perShardRate, 1)}/s on each shard of ${PLAN.shards}, measured on ${r.shards})`,
      short: r.label.replace("issue @", ""),
      c: inputsFor(m, {
        receipts: r.receipts,
        delta: r.delta,
        messages: r.messages,
        // In production the consumer takes full batches of 100 messages.
        consumerInvocations: perR(r.messages, r.receipts) / 100,
        perShardRate: r.perShardRate,
      }),
      rate: r,
    })),
    ...[m.channel.sustained, m.channel.peak].map((r) => ({
      name: `${r.label} (${round(r.perShardRate, 1)}/s on each shard, measured on ${r.shards}, one socket per terminal)`,
      short: r.label.replace("channel @", "chan. ").replace("-equivalent", ""),
      c: inputsFor(m, {
        receipts: r.receipts,
        delta: r.delta,
        messages: r.messages,
        consumerInvocations: perR(r.messages, r.receipts) / 100,
        perShardRate: r.perShardRate,
        channel: r.phase,
      }),
      rate: r,
    })),
  ];
  return { priced: points.map((p) => ({ ...p, cost: p.c ? priceReceipts(p.c.inputs) : null })), halfDelta };
}
type Priced = ReturnType<typeof pricedPoints>["priced"];

/** The issue's targets, each with what this run reached. */
function targetsOf(m: Measured, priced: Priced, batchRate: number) {
  const { issuance: is, rates } = m;
  const w = is.window;
  const sustained = priced[1];
  const sat = is.satMulti.load;
  const before = m.before;
  const sustainedRows = sustained?.c?.inputs.rowsWritten ?? Number.NaN;
  const chan = priced.find((p) => p.short.startsWith("chan. 15k"));
  const neonStorage = (p: typeof chan) =>
    p?.cost?.lines.find((l) => l.component === "Neon storage [A]")?.perMillion ?? 0;
  const chanCost = chan?.cost ? chan.cost.total - neonStorage(chan) : Number.POSITIVE_INFINITY;
  const p99Targets = [
    ["50 % load, HTTP", is.half.load],
    ["15k/s-equivalent, HTTP", rates.sustained.phase.load],
    ["70k/s-equivalent, HTTP", rates.peak.phase.load],
    ["15k/s-equivalent, channel", m.channel.sustained.phase.load],
    ["70k/s-equivalent, channel", m.channel.peak.phase.load],
  ] as const;
  const targets = [
    ...p99Targets.map(([name, l]) => ({
      name: `p99 ≤ 25 ms at ${name}`,
      value: `${l.latencyMs.p99} ms at ${l.rps}/s`,
      pass: l.latencyMs.p99 <= 25,
    })),
    {
      name: "rows written ≤ 0.5 per receipt at 15k/s",
      value: `${round(sustainedRows, 3)} (channel ${round(chan?.c?.inputs.rowsWritten ?? Number.NaN, 3)})`,
      pass: sustainedRows <= 0.5,
    },
    {
      name: `cost < $1 per million at 15k/s over the channel, ${config({}).HOT_DAYS} hot days and the archive`,
      value: chan?.cost
        ? `${money(chan.cost.total)} (HTTP ${money(sustained?.cost?.total ?? 0)})`
        : "not counted (--exact)",
      pass: (chan?.cost?.total ?? Number.POSITIVE_INFINITY) < 1,
    },
    {
      name: "cost ≤ $0.60 per million at 15k/s over the channel, before Postgres storage",
      value: chan?.cost
        ? `${money(chanCost)} (HTTP ${money((sustained?.cost?.total ?? 0) - neonStorage(sustained))})`
        : "not counted (--exact)",
      pass: chanCost <= 0.6,
    },
    ...(before
      ? [
          {
            name: "saturation, 64 stores ≥ before",
            value: `${sat.rps} req/s (before ${before.satMulti}: ${round((sat.rps / before.satMulti) * 100)} %)`,
            pass: sat.rps >= before.satMulti,
          },
          {
            name: "saturation, 1 store ≥ before",
            value: `${is.satSingle.load.rps} req/s (before ${before.satSingle}: ${round((is.satSingle.load.rps / before.satSingle) * 100)} %)`,
            pass: is.satSingle.load.rps >= before.satSingle,
          },
          {
            name: "batch endpoint ≥ before",
            value: `${round(batchRate, 0)} receipts/s (before ${before.batch}: ${round((batchRate / before.batch) * 100)} %)`,
            pass: batchRate >= before.batch,
          },
        ]
      : []),
    {
      name: "lag p99 < 2 s at 50 % load",
      value: `${round(Number(w.lag.p99), 0)} ms`,
      pass: Number(w.lag.p99) < 2000,
    },
  ];

  return targets;
}

const L = (x: LoadResult) =>
  `${String(x.rps).padStart(8)} req/s  p50 ${String(x.latencyMs.p50).padStart(6)}  p95 ${String(x.latencyMs.p95).padStart(6)}  p99 ${String(x.latencyMs.p99).padStart(6)} ms  non-2xx ${x.non2xx}${x.errors ? ` errors ${x.errors}` : ""}`;
const C = (c: CpuSplit) =>
  `loadgen ${c.loadgen}%  tunnel ${c.tunnel}%  workerd ${c.workerd}% (busiest thread ${c.workerdBusiestThread}%)  postgres ${c.postgres}%  other ${c.other}%  | machine ${c.machineBusy}% of ${c.cores * 100}%`;

/** The phases in the order they are printed: name, result (null when not run) and a note. */
function phaseRows(m: Measured): [string, Phase | null, string][] {
  const { issuance: is, rates, persistence: ps, verify: v } = m;
  return [
    ["baseline (bare fetch)", is.baseline, ""],
    ["issue, 64 stores, sat.", is.satMulti, `drained in ${is.drains.multi} ms`],
    ["issue, 1 store, sat.", is.satSingle, `drained in ${is.drains.single} ms`],
    [`issue @50% (${is.halfRate}/s)`, is.half, `drained in ${is.drains.half} ms`],
    ...[rates.sustained, rates.peak].map((r): [string, Phase, string] => [
      `${r.label.replace("issue ", "issue ")}`,
      r.phase,
      `${round(r.perShardRate, 1)}/s on each of ${r.shards} shards`,
    ]),
    ["verify, unpersisted", ps.verifyFresh, `bodies: ${JSON.stringify(ps.freshCheck)}`],
    ["verify, persisted (origin)", v.verifyPersisted, `bodies: ${JSON.stringify(v.persistedCheck)}`],
    ["verify, persisted (cache)", v.verifyCached, "64 hot codes"],
    ["sale, 2 connections", m.refunds.sales, "closed loop, HTTP"],
    ["sale, 2 sockets", m.channel.light, "closed loop, terminal channel"],
    ...[m.channel.sustained, m.channel.peak].map((r): [string, Phase, string] => [
      r.label,
      r.phase,
      `${round(r.perShardRate, 1)}/s on each of ${r.shards} shards`,
    ]),
    [
      "refund, 2 connections",
      m.refunds.refunds,
      `${m.refunds.refunded} refunds at another store; p50 ${round(m.refunds.refunds.load.latencyMs.p50 / Math.max(0.001, m.refunds.sales.load.latencyMs.p50), 2)}× a sale's, p99 ${round(m.refunds.refunds.load.latencyMs.p99 / Math.max(0.001, m.refunds.sales.load.latencyMs.p99), 2)}×; ${m.refunds.rowsPerRefund === null ? "rows not counted (--exact)" : `${round(m.refunds.rowsPerRefund, 2)} rows written per refund`}`,
    ],
    [`issue (profiled, ${m.profiledState})`, m.profile?.phase ?? null, "inspector attached"],
    ...(m.other
      ? ([
          [`issue, 64 stores, ${m.other.state}`, m.other.satMulti, "second workerd"],
          [`issue, 1 store, ${m.other.state}`, m.other.satSingle, "second workerd"],
          [`issue @50%, ${m.other.state}`, m.other.half, `lag p99 ${round(Number(m.other.lag.p99), 0)} ms`],
        ] as [string, Phase, string][])
      : []),
  ];
}

function phasesSection(m: Measured, rows: [string, Phase | null, string][], batchRate: number): string[] {
  const out: string[] = [];
  const { before } = m;
  out.push(`Tillproof bench ${m.stamp}  (${JSON.stringify(m.options)})`);
  out.push("");
  out.push("  phase                         throughput / latency");
  for (const [name, p, note] of rows) if (p) out.push(`  ${name.padEnd(28)}${L(p.load)}${note ? `  (${note})` : ""}`);
  out.push(
    `  ${"issue via /v1/receipts/batch".padEnd(28)}${String(round(batchRate, 0)).padStart(8)} receipts/s (100 per request, 8 in flight)`,
  );
  if (before) {
    out.push(
      `  before (${before.file}): 64 stores ${before.satMulti} req/s, 1 store ${before.satSingle} req/s, batch ${before.batch} receipts/s, 50 % p50 ${before.p50} / p99 ${before.p99} ms`,
    );
  }
  return out;
}

function commitsSection(priced: Priced, halfDelta: TallySum | null): string[] {
  const out: string[] = [];
  out.push("");
  out.push("  group commit: receipts per commit (each commit writes one ring row)");
  for (const p of priced) {
    const d = p.rate ? p.rate.delta : halfDelta;
    if (!d) continue;
    const { batches, receipts, sizes } = d.commits;
    const dist = Object.entries(sizes)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k}: ${n}`)
      .join("  ");
    out.push(
      `  ${p.short.padEnd(20)} ${String(batches).padStart(6)} commits, ${round(receipts / Math.max(1, batches), 2)} receipts each   (sizes ${dist})`,
    );
  }
  return out;
}

function rowsWrittenSection(priced: Priced): string[] {
  const out: string[] = [];
  out.push("");
  out.push("  rows written per receipt, by cause (counted through the shard's storage seam)");
  const causes = [...new Set(priced.flatMap((p) => Object.keys(p.c?.rows ?? {})))];
  out.push(`  ${"".padEnd(56)}${priced.map((p) => p.short.padStart(18)).join("")}`);
  for (const k of causes) {
    out.push(
      `  ${k.slice(0, 56).padEnd(56)}${priced.map((p) => String(round(p.c?.rows[k] ?? 0, 4)).padStart(18)).join("")}`,
    );
  }
  out.push(
    `  ${"total".padEnd(56)}${priced.map((p) => String(round(p.c?.inputs.rowsWritten ?? Number.NaN, 3)).padStart(18)).join("")}`,
  );
  return out;
}

function ratiosSection(m: Measured): string[] {
  const out: string[] = [];
  const { issuance: is, persistence: ps } = m;
  const w = is.window;
  const sat = is.satMulti.load;
  out.push("");
  out.push("  ratios and persistence");
  out.push(
    `  issuance / baseline           ${round((sat.rps / is.baseline.load.rps) * 100)} %   (1 store: ${round((is.satSingle.load.rps / is.baseline.load.rps) * 100)} %)`,
  );
  out.push(
    `  consumer drain                ${round(ps.consumerRate, 0)} rows/s   (${ps.drained} rows, ${ps.inPostgresBeforeUnlock} of them in Postgres before the unlock, from ${ps.backlogMessages} messages in ${ps.inserts} INSERTs, ${round(ps.drainSecs, 2)} s from unlock to last row; rows being written ${round(ps.inStatementSecs, 2)} s of it)`,
  );
  out.push(
    `  consumer, full batches only  ${round(ps.fullRate, 0)} rows/s   (${round((ps.fullRate / ps.copyRate) * 100)} % of COPY)`,
  );
  out.push(
    `  product INSERT + rollups      ${round(ps.insertRate, 0)} rows/s   (from Node, ${ps.insertBatch} per batch: ${round((ps.insertRate / ps.copyRate) * 100)} % of COPY)`,
  );
  out.push(
    `  raw COPY, same rows           ${round(ps.copyRate, 0)} rows/s   (${ps.copied} rows in ${round(ps.copyMs, 0)} ms)`,
  );
  const od = ps.overDatabases;
  const mean = (xs: number[]) => xs.reduce((t, x) => t + x, 0) / Math.max(1, xs.length);
  out.push(
    `  drain, one database           ${round(mean(od.one), 0)} rows/s   (from Node, ${od.rows} rows in batches of ${od.batch}, 4 in flight; rounds ${od.one.map((x) => round(x, 0)).join(" / ")})`,
  );
  out.push(
    `  drain, two databases          ${round(mean(od.two), 0)} rows/s   (×${round(od.ratio, 2)} of one; each database 2 in flight, by shard; rounds ${od.two.map((x) => round(x, 0)).join(" / ")}; both on this machine's one server)`,
  );
  out.push(
    `  lag at 50 % (persisted_at − received_at)  p50 ${round(Number(w.lag.p50), 0)} ms  p95 ${round(Number(w.lag.p95), 0)} ms  p99 ${round(Number(w.lag.p99), 0)} ms  max ${round(Number(w.lag.max), 0)} ms  (${w.lag.n} rows, ${w.lag.inserts} INSERTs)`,
  );
  return out;
}

function cpuSection(m: Measured, rows: [string, Phase | null, string][]): string[] {
  const out: string[] = [];
  const w = m.issuance.window;
  out.push("");
  out.push("  CPU per phase (100 % = one core)");
  for (const [name, p] of rows) if (p) out.push(`  ${name.padEnd(28)}${C(p.cpu)}`);
  out.push(`  ${"50 % phase + its drain".padEnd(28)}${C(w.cpu)}`);
  return out;
}

function profileSection(m: Measured): string[] {
  const out: string[] = [];
  const profile = m.profile?.summary;
  if (profile) {
    out.push("");
    out.push(
      `  where the isolate's time goes (issuance at saturation, DO state on ${m.profiledState}, ${profile.seconds} s V8 profile; idle ${profile.idlePct} %, GC ${profile.gcPct} %)`,
    );
    for (const e of profile.byEntry) {
      out.push(
        `  ${e.entry.padEnd(34)}${String(e.pct).padStart(5)} %  ${e.top.map((t) => `${t.source} ${t.pct}`).join(", ")}`,
      );
    }
  }
  return out;
}

function costSection(priced: Priced): string[] {
  const out: string[] = [];
  out.push("");
  out.push("  cost per 1 million receipts");
  out.push(`  ${"".padEnd(28)}${priced.map((p) => p.short.padStart(18)).join("")}`);
  const components = priced.find((p) => p.cost)?.cost?.lines.map((l) => l.component) ?? [];
  for (const [i, comp] of components.entries()) {
    out.push(
      `  ${comp.padEnd(28)}${priced.map((p) => (p.cost ? money(p.cost.lines[i]?.perMillion ?? 0) : "n/a").padStart(18)).join("")}`,
    );
  }
  out.push(`  ${"total".padEnd(28)}${priced.map((p) => (p.cost ? money(p.cost.total) : "n/a").padStart(18)).join("")}`);
  const neon = (p: (typeof priced)[number]) =>
    p.cost?.lines.find((l) => l.component.startsWith("Neon storage"))?.perMillion ?? 0;
  // Neon storage above is at HOT_DAYS (7) and the day being written; before the archive rows stayed 35 days.
  const before35 = ASSUMPTIONS.neonRetentionMonthsBefore / ASSUMPTIONS.neonRetentionMonths;
  out.push(
    `  ${"before the archive".padEnd(28)}${priced.map((p) => (p.cost ? money(p.cost.total + neon(p) * (before35 - 1)) : "n/a").padStart(18)).join("")}   (35 hot days in Neon, no R2 archive)`,
  );
  for (const p of priced) {
    if (!p.cost) continue;
    out.push(`  ${p.name}:`);
    for (const l of p.cost.lines)
      if (/rows written|DO requests|Queue/.test(l.component)) out.push(`    ${l.component}: ${l.basis}`);
  }
  return out;
}

function targetsSection(targets: ReturnType<typeof targetsOf>): string[] {
  const out: string[] = [];
  out.push("");
  out.push("  targets");
  for (const t of targets) out.push(`  ${t.pass ? "PASS" : "MISS"}  ${t.name.padEnd(44)} ${t.value}`);
  return out;
}

function errorsSection(errors: WorkerLog[]): string[] {
  const out: string[] = [];
  if (errors.length) {
    out.push("");
    out.push(
      `  workerd logged ${errors.length} warnings/errors; first: ${errors
        .slice(0, 3)
        .map((l) => l.message.slice(0, 200))
        .join(" | ")}`,
    );
  }
  return out;
}

/** The bench's report: the figures, then the JSON kept in bench-results/. */
export function report(m: Measured): { text: string; json: Record<string, unknown> } {
  const { issuance: is, rates, persistence: ps } = m;
  const w = is.window;
  const before = m.before;
  const { priced, halfDelta } = pricedPoints(m);
  const batchRate = ps.backlogCodes.length / (ps.batchMs / 1000);
  const targets = targetsOf(m, priced, batchRate);
  const rows = phaseRows(m);
  const profile = m.profile?.summary;
  const errors = m.logs.filter((l) => l.level === "error" || l.level === "warn");
  const out = [
    "",
    ...phasesSection(m, rows, batchRate),
    ...commitsSection(priced, halfDelta),
    ...rowsWrittenSection(priced),
    ...ratiosSection(m),
    ...cpuSection(m, rows),
    ...profileSection(m),
    ...costSection(priced),
    ...targetsSection(targets),
    ...errorsSection(errors),
  ];
  const json = {
    run: m.stamp,
    options: m.options,
    plan: PLAN,
    phases: Object.fromEntries(
      rows.filter(([, p]) => p).map(([n, p]) => [n, { ...(p as Phase).load, cpu: (p as Phase).cpu }]),
    ),
    refunds: { refunded: m.refunds.refunded, rowsPerRefund: m.refunds.rowsPerRefund },
    issueViaBatch: { receipts: ps.backlogCodes.length, ms: ps.batchMs, errors: ps.batchErrors },
    persistence: { ...ps, backlogCodes: undefined, verifyFresh: undefined },
    lagMs: w.lag,
    commits: Object.fromEntries(priced.map((p) => [p.short, (p.rate ? p.rate.delta : halfDelta)?.commits ?? null])),
    mark: rates.mark,
    cost: priced.map((p) => ({ point: p.name, inputs: p.c?.inputs ?? null, rows: p.c?.rows ?? null, ...p.cost })),
    before,
    prices: PRICES,
    assumptions: ASSUMPTIONS,
    targets,
    profile,
    otherState: m.other,
    workerdLogs: errors.slice(0, 50),
  };
  return { text: out.join("\n"), json };
}
