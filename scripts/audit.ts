/**
 * `npm run audit`: checks every receipt in Postgres against the shards' signed
 * logs and the per-store chains, streaming (one tile and one page of rows at a
 * time). Lists each altered or missing receipt, prints a summary, exits 1 if
 * anything is wrong. Run `npm run audit -- --help` for the options.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { encodeCode } from "../core/code.ts";
import { auditShard, type ShardAudit } from "./lib/audit/shard-audit.ts";
import { logApi, shardRows, shardsInUse } from "./lib/audit/sources.ts";

const HELP = `npm run audit -- [options]
  --database-url URL  Postgres to audit (default $AUDIT_DATABASE_URL or $DATABASE_URL)
  --url URL           the Tillproof service, for checkpoints and tiles (default $TILLPROOF_URL or http://127.0.0.1:8787)
  --key VKEY          the log's verifier key to trust (default $LOG_VERIFIER_KEY, else the service's /v1/log/key)
  --code-key KEY      CODE_KEY, to name missing receipts by code (default $CODE_KEY; else by shard and entry)
  --shard N           audit only this shard (repeatable)
  --quiet             no progress bar`;

export type AuditOptions = {
  databaseUrl: string;
  url: string;
  key?: string;
  codeKey?: string;
  shards?: number[];
  progress?: (line: string) => void;
};

export type AuditReport = { shards: ShardAudit[]; checked: number; problems: number; unsigned: number };

export async function runAudit(o: AuditOptions): Promise<AuditReport> {
  const api = logApi(o.url.replace(/\/+$/, ""));
  const vkey = o.key ?? (await api.verifierKey());
  const pool = new pg.Pool({ connectionString: o.databaseUrl, max: 2 });
  try {
    const shards = o.shards ?? (await shardsInUse(pool));
    const signed = new Map<number, { size: number; root: Uint8Array }>();
    for (const n of shards) {
      const cp = await api.checkpoint(n, vkey);
      signed.set(n, cp ?? { size: 0, root: new Uint8Array(32) });
    }
    const total = [...signed.values()].reduce((sum, s) => sum + s.size, 0);
    const started = Date.now();
    let before = 0;
    const results: ShardAudit[] = [];
    for (const n of shards) {
      const s = signed.get(n) ?? { size: 0, root: new Uint8Array(32) };
      const result = await auditShard({
        shard: n,
        signed: s,
        rows: shardRows(pool, n),
        tiles: api.tiles(n),
        codeOf: (counter) => (o.codeKey ? encodeCode(o.codeKey, { shard: n, counter }) : null),
        progress: (done) => o.progress?.(bar(before + done, total, started, n)),
      });
      before += s.size;
      results.push(result);
    }
    return {
      shards: results,
      checked: results.reduce((n, r) => n + r.checked, 0),
      problems: results.reduce((n, r) => n + r.problems.length, 0),
      unsigned: results.reduce((n, r) => n + r.unsigned, 0),
    };
  } finally {
    await pool.end();
  }
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
      url: { type: "string" },
      key: { type: "string" },
      "code-key": { type: "string" },
      shard: { type: "string", multiple: true },
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
  if (shards?.some((n) => !Number.isInteger(n) || n < 0 || n > 1023)) {
    console.error("audit: --shard takes a shard number 0–1023");
    return 2;
  }
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const report = await runAudit({
    databaseUrl,
    url: values.url ?? process.env.TILLPROOF_URL ?? "http://127.0.0.1:8787",
    key: values.key ?? process.env.LOG_VERIFIER_KEY,
    codeKey: values["code-key"] ?? process.env.CODE_KEY,
    shards,
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
