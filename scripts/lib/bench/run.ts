/**
 * One bench run's shared state and helpers, handed to each phase
 * (scripts/lib/bench/phases/): the stack it started, the fleets, the load
 * generator wrapped with CPU sampling, and the probes phases read between loads.
 */
import pg from "pg";
import type { Cleanup } from "../stack/cleanup.ts";
import { type CpuPids, type CpuSplit, startCpu } from "./cpu.ts";
import type { ShardTally, Tally } from "./entry.ts";
import type { Fleet, Terminal } from "./fleet.ts";
import { type LoadOptions, type LoadResult, type Req, runLoad } from "./load.ts";
import { rng, SalePool } from "./receipts.ts";
import type { Database, Workers } from "./stack.ts";

export type Phase = { load: LoadResult; cpu: CpuSplit };
export type Pipeline = {
  issued: number;
  enqueued: number;
  persisted: number;
  unpersisted: number;
  messagesSent: number;
};
/** Summed over shards: per method, rows written per cause, and group-commit batch counts. */
export type TallySum = {
  methods: Record<string, Tally>;
  causes: Record<string, number>;
  commits: { batches: number; receipts: number; sizes: Record<string, number> };
};

export type BenchOptions = {
  phaseSec: number;
  runTag: string;
  say: (line: string) => void;
  live: ((line: string) => void) | undefined;
  db: Database;
  workers: Workers;
  cpuPids: CpuPids;
  cleanup: Cleanup;
};

export const OPERATOR_TOKEN = "bench-operator-token";
export const round = (x: number, d = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : 0);
export const money = (x: number) =>
  x >= 0.1 ? `$${x.toFixed(2)}` : x >= 0.001 ? `$${x.toFixed(4)}` : `$${x.toExponential(1)}`;
export const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

export class BenchRun {
  readonly sales = new SalePool(4096, 42);
  readonly r = rng(7);
  /** Receipts answered 201 so far (drain waits for Postgres to hold as many). */
  issued201 = 0;
  /** Our own Postgres statements, subtracted from xact_commit. */
  ownStatements = 0;
  /** The workerd the pipeline is read from (the second one once the first is stopped). */
  pipelineBase: string;
  private keyN = 0;
  readonly sql: pg.Pool;

  readonly o: BenchOptions;

  constructor(o: BenchOptions) {
    this.o = o;
    this.pipelineBase = o.workers.productUrl;
    this.sql = new pg.Pool({ connectionString: o.db.url, max: 3 });
    o.cleanup.add("bench pg pool", () => this.sql.end());
  }

  get base(): string {
    return this.o.workers.productUrl;
  }

  say(line: string): void {
    this.o.say(line);
  }

  async q<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    this.ownStatements++;
    return (await this.sql.query<T>(text, params)).rows;
  }

  /** A fresh idempotency key. */
  nextKey(): string {
    this.keyN++;
    return `${this.o.runTag}-${this.keyN}`;
  }

  /** POST /v1/receipts requests from the fleet's terminals in turn, each with a new key. */
  issuer(fleet: Fleet | Terminal[]): () => Req {
    const terminals = Array.isArray(fleet) ? fleet : fleet.terminals;
    let i = 0;
    return (): Req => {
      const t = terminals[i++ % terminals.length] as Terminal;
      const key = this.nextKey();
      return {
        method: "POST",
        path: "/v1/receipts",
        headers: {
          authorization: `Bearer ${t.token}`,
          "content-type": "application/json",
          "idempotency-key": key,
        },
        body: this.sales.body(this.keyN, Date.now() - Math.floor(this.r() * 3000)),
      };
    };
  }

  count201(l: LoadResult): LoadResult {
    this.issued201 += l.status["201"] ?? 0;
    return l;
  }

  /** A load phase with CPU sampled across the processes (201s counted). */
  async phase(o: Omit<LoadOptions, "live">, pids: CpuPids = this.o.cpuPids): Promise<Phase> {
    const stop = startCpu(pids);
    const load = await runLoad({ ...o, ...(this.o.live ? { live: this.o.live } : {}) });
    this.count201(load);
    return { load, cpu: stop() };
  }

  /**
   * Waits until Postgres holds every receipt issued so far and the shards have
   * heard so (nothing unpersisted), bounded. Returns ms until Postgres had them.
   */
  async drain(limitMs = 30_000): Promise<number> {
    const start = Date.now();
    for (;;) {
      const [row] = await this.q<{ n: string }>("SELECT count(*) AS n FROM receipts");
      const n = Number(row?.n ?? 0);
      if (n >= this.issued201) break;
      if (Date.now() - start > limitMs) {
        this.say(`warning: Postgres has ${n} of ${this.issued201} receipts after ${limitMs / 1000} s`);
        return Date.now() - start;
      }
      await sleep(100);
    }
    const inPostgres = Date.now() - start;
    while (Date.now() - start < limitMs) {
      if ((await this.pipeline()).unpersisted === 0) break;
      await sleep(200);
    }
    return inPostgres;
  }

  async pipeline(): Promise<Pipeline> {
    const res = await fetch(`${this.pipelineBase}/v1/ops/pipeline`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    return ((await res.json()) as { totals: Pipeline }).totals;
  }

  /** The shards' counters, summed (null with --exact). */
  async tally(shards: number[], workers: Workers = this.o.workers): Promise<TallySum | null> {
    const per = await workers.tally(shards);
    if (!per) return null;
    return sumTallies([...per.values()]);
  }

  /** xact_commit of the bench database, and how many of those were ours so far (to subtract). */
  async dbStats(): Promise<{ xact: number; inserted: number; own: number }> {
    await sleep(1100); // backends report their counters at most once a second
    const [row] = await this.q<{ xact: string; ins: string }>(
      "SELECT xact_commit + xact_rollback AS xact, tup_inserted AS ins FROM pg_stat_database WHERE datname = current_database()",
    );
    return { xact: Number(row?.xact ?? 0), inserted: Number(row?.ins ?? 0), own: this.ownStatements };
  }

  /** Persistence lag (persisted_at − received_at) of the fleet's receipts received in [from, to]. */
  async lagOf(fleet: Fleet, from: Date, to: Date) {
    const [row] = await this.q<{ p50: number; p95: number; p99: number; max: number; n: string; inserts: string }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY lag) AS p95,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99,
              max(lag) AS max, count(*) AS n, count(DISTINCT x) AS inserts
         FROM (SELECT extract(epoch FROM persisted_at - received_at) * 1000 AS lag, xmin::text AS x
                 FROM receipts WHERE received_at >= $1 AND received_at <= $2 AND tenant_id = ANY($3)) s`,
      [from, to, fleet.tenants.map((t) => t.id)],
    );
    return row ?? { p50: 0, p95: 0, p99: 0, max: 0, n: "0", inserts: "0" };
  }
}

export type Lag = Awaited<ReturnType<BenchRun["lagOf"]>>;

export function sumTallies(all: ShardTally[]): TallySum {
  const sum: TallySum = { methods: {}, causes: {}, commits: { batches: 0, receipts: 0, sizes: {} } };
  for (const t of all) {
    for (const [k, v] of Object.entries(t.methods)) {
      const s = sum.methods[k] ?? { calls: 0, rowsRead: 0, rowsWritten: 0, statements: 0 };
      s.calls += v.calls;
      s.rowsRead += v.rowsRead;
      s.rowsWritten += v.rowsWritten;
      s.statements += v.statements;
      sum.methods[k] = s;
    }
    for (const [k, v] of Object.entries(t.causes)) sum.causes[k] = (sum.causes[k] ?? 0) + v;
    sum.commits.batches += t.commits.batches;
    sum.commits.receipts += t.commits.receipts;
    for (const [k, v] of Object.entries(t.commits.sizes)) sum.commits.sizes[k] = (sum.commits.sizes[k] ?? 0) + v;
  }
  return sum;
}

/** b − a, field by field (a missing: zero). */
export function tallyDelta(a: TallySum | null, b: TallySum | null): TallySum | null {
  if (!b) return null;
  const d: TallySum = { methods: {}, causes: {}, commits: { batches: 0, receipts: 0, sizes: {} } };
  for (const [k, v] of Object.entries(b.methods)) {
    const x = a?.methods[k];
    d.methods[k] = {
      calls: v.calls - (x?.calls ?? 0),
      rowsRead: v.rowsRead - (x?.rowsRead ?? 0),
      rowsWritten: v.rowsWritten - (x?.rowsWritten ?? 0),
      statements: v.statements - (x?.statements ?? 0),
    };
  }
  for (const [k, v] of Object.entries(b.causes)) d.causes[k] = v - (a?.causes[k] ?? 0);
  d.commits.batches = b.commits.batches - (a?.commits.batches ?? 0);
  d.commits.receipts = b.commits.receipts - (a?.commits.receipts ?? 0);
  for (const [k, v] of Object.entries(b.commits.sizes)) d.commits.sizes[k] = v - (a?.commits.sizes[k] ?? 0);
  return d;
}

/** Rows written per receipt in a tally delta, in total and per cause. */
export function rowsPerReceipt(d: TallySum, receipts: number): { total: number; byCause: Record<string, number> } {
  const R = Math.max(1, receipts);
  const byCause = Object.fromEntries(
    Object.entries(d.causes)
      .filter(([, v]) => v > 0)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => [k, v / R]),
  );
  return { total: Object.values(d.causes).reduce((t, v) => t + v, 0) / R, byCause };
}
