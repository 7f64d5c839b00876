/**
 * The shard at production's load: each shard of the plan (docs/scale.md §12)
 * sees 15,000 / SHARDS receipts a second sustained and 70,000 / SHARDS at
 * peak. The bench drives a few of its shards at exactly that per-shard rate,
 * so the batch sizes, rows written per receipt and latency measured here are
 * the ones a production shard would see (the storage's own latency aside).
 */
import type { Fleet, Terminal } from "../fleet.ts";
import { type BenchRun, type Phase, rowsPerReceipt, type TallySum, tallyDelta } from "../run.ts";

/** The plan: shard count and national rates (docs/scale.md §12). */
export const PLAN = { shards: 256, sustained: 15_000, peak: 70_000 };

export type RateResult = {
  label: string;
  perShardRate: number;
  shards: number;
  phase: Phase;
  receipts: number;
  delta: TallySum | null;
  rows: { total: number; byCause: Record<string, number> } | null;
  messages: number;
};

export type MarkResult = { keys: number; rowsWritten: number; byCause: Record<string, number> } | null;

function terminalsOn(fleet: Fleet, count: number): { terminals: Terminal[]; shards: number[] } {
  const shards = [...new Set(fleet.terminals.map((t) => t.shard))].slice(0, count);
  return { terminals: fleet.terminals.filter((t) => shards.includes(t.shard)), shards };
}

/**
 * One phase at `perShard` receipts a second on each of `shards`, driven by
 * `run` (over HTTP here, over the channel in channel.ts), with the rows, commits
 * and queue messages it cost counted around it.
 */
export async function measureAtRate(
  b: BenchRun,
  o: { label: string; perShard: number; shards: number[]; run: (rate: number) => Promise<Phase> },
): Promise<RateResult> {
  const rate = Math.round(o.perShard * o.shards.length);
  const t0 = await b.tally(o.shards);
  const p0 = await b.pipeline();
  const phase = await o.run(rate);
  await b.drain();
  const delta = tallyDelta(t0, await b.tally(o.shards));
  const p1 = await b.pipeline();
  const receipts = phase.load.status["201"] ?? 0;
  return {
    label: o.label,
    perShardRate: o.perShard,
    shards: o.shards.length,
    phase,
    receipts,
    delta,
    rows: delta ? rowsPerReceipt(delta, receipts) : null,
    messages: p1.messagesSent - p0.messagesSent,
  };
}

async function atRate(b: BenchRun, fleet: Fleet, label: string, perShard: number, count: number): Promise<RateResult> {
  const { terminals, shards } = terminalsOn(fleet, count);
  const rate = Math.round(perShard * shards.length);
  b.say(`${label}: ${round1(perShard)} receipts/s on each of ${shards.length} shards (${rate}/s), paced`);
  return measureAtRate(b, {
    label,
    perShard,
    shards,
    run: (r) =>
      b.phase({
        label,
        url: b.base,
        connections: Math.min(64, Math.max(8, Math.ceil(r / 20))),
        rate: r,
        durationSec: b.o.phaseSec,
        maxRequests: r * b.o.phaseSec * 2,
        next: b.issuer(terminals),
      }),
  });
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export async function productionRates(b: BenchRun, fleet: Fleet) {
  const sustained = await atRate(b, fleet, "issue @15k/s-equivalent", PLAN.sustained / PLAN.shards, 4);
  // What a mark writes for the keys those shards took (it comes every 10 minutes, or per 100,000 keys).
  const { shards } = terminalsOn(fleet, 4);
  const before = await b.tally(shards);
  await b.o.workers.mark(shards);
  const marked = tallyDelta(before, await b.tally(shards));
  const mark: MarkResult = marked
    ? {
        keys: sustained.receipts,
        rowsWritten: Object.values(marked.causes).reduce((t, v) => t + v, 0),
        byCause: marked.causes,
      }
    : null;
  const peak = await atRate(b, fleet, "issue @70k/s-equivalent", PLAN.peak / PLAN.shards, 2);
  return { sustained, peak, mark };
}
