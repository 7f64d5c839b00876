/**
 * `npm run audit`: checks every receipt, in Postgres or archived in R2, against
 * the shards' signed logs and the per-store chains, streaming (one tile, one
 * page of rows and one archived object at a time). Lists each altered or missing receipt, prints a summary, exits 1 if
 * anything is wrong. Run `npm run audit -- --help` for the options.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { codeRoute, encodeCode, MAX_SHARDS, parseCode } from "../core/code.ts";
import { config } from "../core/config.ts";
import { checkGrowth, openPins, type Pins } from "../tlog/monitor.ts";
import type { Checkpoint } from "../tlog/note.ts";
import { keepCheckpoint, keptCheckpoint } from "./lib/audit/kept.ts";
import { refundProblems } from "./lib/audit/refunds.ts";
import { rollupProblems } from "./lib/audit/rollups.ts";
import { auditShard, type Problem, type ShardAudit } from "./lib/audit/shard-audit.ts";
import {
  archivedObjectsIn,
  archivedRows,
  archiveLookup,
  codesOfShard,
  countersPresent,
  logApi,
  shardFacts,
  shardRows,
  shardsNamedPast,
} from "./lib/audit/sources.ts";
import { readPinsFile } from "./lib/pins-file.ts";

const HELP = `npm run audit -- [options]
  --database-url URL  Postgres to audit (default $AUDIT_DATABASE_URL or $DATABASE_URL)
  --receipts-database URL
                      a receipts database beside it (DATABASE_URLS, docs/scale.md §6a; repeatable): every
                      shard's rows are read from all of them and merged by counter
  --url URL           the Tillproof service, for checkpoints and tiles (default $TILLPROOF_URL or http://127.0.0.1:8787)
  --key VKEY          the log's verifier key to trust (default $LOG_VERIFIER_KEY, else the service's /v1/log/key)
  --code-key KEY      CODE_KEY, to name missing receipts by code (default $CODE_KEY; else by shard and entry)
  --operator-token T  read the log without the public rate limit (only over https or to this machine; else 429s are
                      waited out), and read archived days' objects (needed once a day has been archived)
  --witness-policy F  pin the log and its witnesses from F (what GET /v1/log/witnesses answers, saved when you
                      decided to trust it): each checkpoint needs the log's signature, its exact origin and the quorum
  --state DIR         keep the largest checkpoint verified per shard in DIR, and demand that the log only grew since
                      (a consistency proof from it); a fork or a shrunk tree is a problem, and DIR keeps the old one
  --rollups           also recompute every store-local day's analytics rollups (the tax CSV's figures) from the
                      receipts, in one snapshot, and report each figure that differs
  --shard N           audit only this shard (repeatable)
  --shard-count N     shards to look for (default $SHARD_COUNT or the Worker's default, 256; up to 8192)
  --grace-ms MS       rows received this long before the audit must be in the signed log (default 60000)
  --quiet             no progress bar`;

export type AuditOptions = {
  databaseUrl: string;
  /** Receipts databases beside the primary (DATABASE_URLS): each shard's rows are read from every one. */
  receiptsDatabaseUrls?: string[];
  url: string;
  key?: string;
  /** The log's key, origin and witnesses to pin (a policy file); without it, `key` and the service's origin, no quorum. */
  pins?: Pins;
  /** Where the largest verified checkpoint of each shard is kept between audits. */
  stateDir?: string;
  codeKey?: string;
  /** Sent with the log reads so the service does not rate-limit the audit. */
  operatorToken?: string;
  /** Also recompute each day's rollups from the receipts and compare. */
  rollups?: boolean;
  /** Only these shards; default: every shard below `shardCount` that has a log or rows. */
  shards?: number[];
  shardCount?: number;
  /** Rows received this long before the audit started must be in the signed log (default 60 s). */
  graceMs?: number;
  progress?: (line: string) => void;
};

export type AuditReport = {
  shards: ShardAudit[];
  checked: number;
  problems: number;
  unsigned: number;
  /** With `rollups`: how many receipts were recomputed into how many store-days. */
  rollups?: { receipts: number; days: number; archivedThrough: string | null };
};

type Signed = { note: string; checkpoint: Checkpoint };

export async function runAudit(o: AuditOptions): Promise<AuditReport> {
  const api = logApi(o.url.replace(/\/+$/, ""), o.operatorToken);
  const pins = await openPins(o.pins ?? (await servicePins(api, o.key)));
  const graceMs = o.graceMs ?? 60_000;
  const signedBefore = Date.now() - graceMs;
  const pool = new pg.Pool({ connectionString: o.databaseUrl, max: 2 });
  const pools = [pool, ...(o.receiptsDatabaseUrls ?? []).map((url) => new pg.Pool({ connectionString: url, max: 2 }))];
  try {
    // Which shards exist comes from the log service and from the rows themselves, never from a
    // table an insider could edit (stores.shard).
    const counted = o.shards ?? Array.from({ length: o.shardCount ?? config({}).SHARD_COUNT }, (_, i) => i);
    // Shards past the count that rows name are audited too when the log service signs for them
    // (SHARD_COUNT was lowered; older stores stay where they are). The rest are "not in the log".
    const { shards: past, undecodable } = o.shards
      ? { shards: [], undecodable: [] }
      : await eachPool(pools, (p) => shardsNamedPast(p, counted.length)).then((found) => ({
          shards: [...new Set(found.flatMap((f) => f.shards))].sort((a, b) => a - b),
          undecodable: found.flatMap((f) => f.undecodable),
        }));
    const signsFor = await Promise.all(
      past.map((n) =>
        api.checkpoint(n, pins).then(
          (signed) => signed !== null,
          () => false,
        ),
      ),
    );
    const unsigned = past.filter((_, i) => !signsFor[i]);
    const candidates = [...counted, ...past.filter((_, i) => signsFor[i])];
    const plan: {
      n: number;
      signed: Signed | null;
      error: string | null;
      facts: { hasRows: boolean; hasV1: boolean; v2From: number | null };
    }[] = [];
    for (const n of candidates) {
      const [cp, facts] = await Promise.all([
        api.checkpoint(n, pins).then(
          (signed) => ({ signed, error: null }),
          (e: Error) => ({ signed: null, error: e.message }),
        ),
        eachPool(pools, (p) => shardFacts(p, n)).then((all) => ({
          hasRows: all.some((f) => f.hasRows),
          hasV1: all.some((f) => f.hasV1),
          v2From: Math.min(...all.map((f) => f.v2From ?? Number.POSITIVE_INFINITY)),
        })),
      ]);
      const v2From = Number.isFinite(facts.v2From) ? facts.v2From : null;
      if (cp.signed || cp.error || facts.hasRows) plan.push({ n, ...cp, facts: { ...facts, v2From } });
    }
    const total = plan.reduce((sum, p) => sum + (p.signed?.checkpoint.size ?? 0), 0);
    const started = Date.now();
    let before = 0;
    const results: ShardAudit[] = [];
    for (const { n, signed, error, facts } of plan) {
      // Days already archived: their objects, through the operator's route (the log's leaves check every byte).
      const objects = await archivedObjectsIn(pools, n);
      if (objects.length && !o.operatorToken) {
        throw new Error(`shard ${n} has ${objects.length} archived object(s); reading them needs --operator-token`);
      }
      const archiveProblems: Problem[] = [];
      const archived = objects.length ? archivedRows(objects, (x) => api.archiveObject(x), archiveProblems) : undefined;
      const format = (counter: number) =>
        facts.v2From !== null ? (counter >= facts.v2From ? 2 : 1) : facts.hasV1 ? 1 : 2;
      const result = await auditShard({
        shard: n,
        signed: signed?.checkpoint ?? { size: 0, root: new Uint8Array(32) },
        rows: shardRows(pools, n, archived),
        tiles: api.tiles(n),
        codeOf: (counter) => (o.codeKey ? encodeCode(o.codeKey, { shard: n, counter }, format(counter)) : null),
        codeIsGenuine: (code) => !o.codeKey || parseCode(o.codeKey, code)?.code === code,
        signedBefore,
        recheck: async (counters) => {
          // Give receipts that were on their way a moment to land before the second look.
          await new Promise((ok) => setTimeout(ok, Math.max(0, started + Math.min(graceMs, 5_000) - Date.now())));
          const present = await eachPool(pools, (p) => countersPresent(p, n, counters));
          return new Set(present.flatMap((x) => [...x]));
        },
        progress: (done) => o.progress?.(bar(before + done, total, started, n)),
      });
      result.problems.unshift(...archiveProblems);
      if (error) result.problems.unshift({ kind: "checkpoint", code: `shard ${n}`, detail: error });
      else if (!signed) {
        result.problems.unshift({
          kind: "checkpoint",
          code: `shard ${n}`,
          detail: "rows in Postgres, but no signed log",
        });
      }
      if (signed && o.stateDir) {
        const fork = await checkGrowth(
          await keptCheckpoint(o.stateDir, signed.checkpoint.origin),
          signed.checkpoint,
          (from, to) => api.consistency(n, from, to),
        );
        if (fork) result.problems.unshift({ kind: "fork", code: `shard ${n}`, detail: fork });
        else await keepCheckpoint(o.stateDir, signed.checkpoint.origin, signed.note);
      }
      before += signed?.checkpoint.size ?? 0;
      results.push(result);
    }
    if (!o.shards) {
      const beyond = [
        ...undecodable,
        ...(await Promise.all(unsigned.map((n) => eachPool(pools, (p) => codesOfShard(p, n))))).flat(2),
      ].slice(0, 100);
      const problems = beyond.map((code) => ({
        kind: "not_in_log" as const,
        code,
        detail:
          codeRoute(code) === null
            ? "names no shard: not a code this service issues"
            : `names shard ${codeRoute(code)?.shard}, past the ${counted.length} shards there are, which has no log`,
      }));
      if (problems.length) {
        results.push({ shard: -1, signedSize: 0, checked: problems.length, unsigned: 0, problems });
      }
    }
    // Refunds and voids point to sales of their tenant, and no sale gave back more than it took.
    const refunds = await refundProblems(
      pools,
      o.operatorToken ? archiveLookup(pools, (x) => api.archiveObject(x)) : undefined,
    );
    if (refunds.problems.length) {
      results.push({ shard: -1, signedSize: 0, checked: 0, unsigned: 0, problems: refunds.problems });
    }
    // Each database's rollups come from its own receipts (the trigger is local): each is recomputed apart.
    const rollups = o.rollups
      ? await eachPool(pools, rollupProblems).then((all) => ({
          receipts: all.reduce((n, r) => n + r.receipts, 0),
          days: all.reduce((n, r) => n + r.days, 0),
          problems: all.flatMap((r) => r.problems),
          archivedThrough: all[0]?.archivedThrough ?? null,
        }))
      : undefined;
    if (rollups) results.push({ shard: -1, signedSize: 0, checked: 0, unsigned: 0, problems: rollups.problems });
    return {
      rollups: rollups && { receipts: rollups.receipts, days: rollups.days, archivedThrough: rollups.archivedThrough },
      shards: results,
      checked: results.reduce((n, r) => n + r.checked, 0),
      problems: results.reduce((n, r) => n + r.problems.length, 0),
      unsigned: results.reduce((n, r) => n + r.unsigned, 0),
    };
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
}

/** The same read of every database, in order (the primary first). */
const eachPool = <T>(pools: pg.Pool[], read: (pool: pg.Pool) => Promise<T>): Promise<T[]> =>
  Promise.all(pools.map(read));

/** Without a policy file: the pinned `key` (else the service's) and the service's origin, no witness quorum. */
async function servicePins(api: ReturnType<typeof logApi>, key: string | undefined): Promise<Pins> {
  const served = await api.pins();
  const vkey = key ?? served.log.vkey;
  if (!vkey) throw new Error("the service has no log key, and none was given with --key");
  return { log: { origin: served.log.origin, vkey }, witnesses: [], quorum: 0 };
}

function bar(done: number, total: number, started: number, shard: number): string {
  const share = total ? done / total : 1;
  const filled = Math.round(share * 30);
  const rate = Math.round(done / Math.max(0.001, (Date.now() - started) / 1000));
  return `[${"█".repeat(filled)}${"░".repeat(30 - filled)}] ${(share * 100).toFixed(1)}%  ${done.toLocaleString("en")} of ${total.toLocaleString("en")} signed entries  ${rate.toLocaleString("en")}/s  (shard ${shard})`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      "database-url": { type: "string" },
      "receipts-database": { type: "string", multiple: true },
      url: { type: "string" },
      key: { type: "string" },
      "code-key": { type: "string" },
      "operator-token": { type: "string" },
      "witness-policy": { type: "string" },
      state: { type: "string" },
      rollups: { type: "boolean" },
      shard: { type: "string", multiple: true },
      "shard-count": { type: "string" },
      "grace-ms": { type: "string" },
      quiet: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const databaseUrl = values["database-url"] ?? process.env.AUDIT_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error(`audit: no database. Pass --database-url or set DATABASE_URL.\n\n${HELP}`);
    return 2;
  }
  const shards = values.shard?.map(Number);
  if (shards?.some((n) => !Number.isInteger(n) || n < 0 || n >= MAX_SHARDS)) {
    console.error(`audit: --shard takes a shard number 0–${MAX_SHARDS - 1}`);
    return 2;
  }
  const shardCount = Number(values["shard-count"] ?? process.env.SHARD_COUNT ?? config({}).SHARD_COUNT);
  const graceMs = Number(values["grace-ms"] ?? 60_000);
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > MAX_SHARDS || !(graceMs >= 0)) {
    console.error(`audit: --shard-count takes 1–${MAX_SHARDS}, --grace-ms a number of milliseconds`);
    return 2;
  }
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const report = await runAudit({
    databaseUrl,
    receiptsDatabaseUrls: values["receipts-database"] ?? [],
    url: values.url ?? process.env.TILLPROOF_URL ?? "http://127.0.0.1:8787",
    key: values.key ?? process.env.LOG_VERIFIER_KEY,
    pins: values["witness-policy"] ? await readPinsFile(values["witness-policy"]) : undefined,
    stateDir: values.state,
    rollups: values.rollups,
    codeKey: values["code-key"] ?? process.env.CODE_KEY,
    operatorToken: values["operator-token"],
    shards,
    shardCount,
    graceMs,
    progress: values.quiet
      ? undefined
      : (line) => {
          if (tty) process.stderr.write(`\r${line}`);
          else if (Date.now() - lastLine > 2_000) {
            lastLine = Date.now();
            process.stderr.write(`${line}\n`);
          }
        },
  });
  if (tty && !values.quiet) process.stderr.write("\n");
  for (const s of report.shards) {
    for (const p of s.problems) console.log(`${p.kind.toUpperCase().padEnd(12)} ${p.code}  ${p.detail}`);
  }
  const signed = report.shards.reduce((n, s) => n + s.signedSize, 0);
  if (report.rollups) {
    console.log(
      `audit: rollups recomputed from ${report.rollups.receipts.toLocaleString("en")} receipts over ${report.rollups.days.toLocaleString("en")} store-days${report.rollups.archivedThrough ? ` (days through ${report.rollups.archivedThrough} are archived: not recomputed)` : ""}`,
    );
  }
  console.log(
    `audit: ${report.checked.toLocaleString("en")} receipts in ${report.shards.length} shard(s) against ${signed.toLocaleString("en")} signed log entries (${report.unsigned} newer than their checkpoint): ${
      report.problems ? `${report.problems} problem(s) — FAILED` : "all intact — OK"
    }`,
  );
  return report.problems ? 1 : 0;
}

if (import.meta.main) {
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`audit: ${e.message}`);
      process.exit(2);
    },
  );
}
