/**
 * Issuance: a bare Worker's baseline, POST /v1/receipts at saturation (64
 * stores on many shards, and one store), then at 50 % of saturation, paced,
 * with everything the cost model counts taken around that phase.
 */
import type { CpuSplit } from "../cpu.ts";
import { startCpu } from "../cpu.ts";
import type { Fleet } from "../fleet.ts";
import { runLoad } from "../load.ts";
import type { BenchRun, Lag, Phase, Pipeline, TallySum } from "../run.ts";

export type IssuanceResult = {
  baseline: Phase;
  satMulti: Phase;
  satSingle: Phase;
  half: Phase;
  halfRate: number;
  drains: { multi: number; single: number; half: number };
  /** What the cost model reads, taken before and after the 50 % phase and its drain. */
  window: {
    receipts: number;
    pipeline: [Pipeline, Pipeline];
    tally: [TallySum | null, TallySum | null];
    db: [{ xact: number; own: number }, { xact: number; own: number }];
    cpu: CpuSplit;
    lag: Lag;
  };
};

export async function issuance(b: BenchRun, fleets: { multi: Fleet; single: Fleet; shards: number[] }) {
  const PHASE = b.o.phaseSec;
  b.say("warm-up (3 s, not measured)");
  b.count201(
    await runLoad({
      label: "warm-up",
      url: b.base,
      connections: 16,
      durationSec: 3,
      maxRequests: 50_000,
      next: b.issuer(fleets.multi),
    }),
  );
  await b.drain();

  b.say("baseline: GET / on a bare Worker in the same workerd, saturation");
  const baseline = await b.phase({
    label: "baseline",
    url: b.o.workers.baselineUrl,
    connections: 8,
    durationSec: PHASE,
    maxRequests: 400_000,
    next: () => ({ method: "GET", path: "/" }),
  });

  b.say("issuance: POST /v1/receipts, 64 stores on many shards, saturation");
  const satMulti = await b.phase({
    label: "issue, 64 stores",
    url: b.base,
    connections: 16,
    durationSec: PHASE,
    maxRequests: 100_000,
    next: b.issuer(fleets.multi),
  });
  const drainMulti = await b.drain();

  b.say("issuance: POST /v1/receipts, one store (one shard), saturation");
  const satSingle = await b.phase({
    label: "issue, 1 store",
    url: b.base,
    connections: 8,
    durationSec: PHASE,
    maxRequests: 100_000,
    next: b.issuer(fleets.single),
  });
  const drainSingle = await b.drain();

  const halfRate = Math.max(10, Math.round(satMulti.load.rps / 2));
  b.say(`issuance at 50 % of saturation: ${halfRate} receipts/s, paced, 64 stores`);
  const p0 = await b.pipeline();
  const tally0 = await b.tally(fleets.shards);
  const db0 = await b.dbStats();
  const costCpu = startCpu(b.o.cpuPids);
  const halfStart = new Date(Date.now() - 50);
  const half = await b.phase({
    label: "issue @50%",
    url: b.base,
    connections: 50,
    rate: halfRate,
    durationSec: PHASE,
    maxRequests: halfRate * PHASE * 2,
    next: b.issuer(fleets.multi),
  });
  const halfEnd = new Date();
  const drainHalf = await b.drain();
  const cpu = costCpu();
  const db1 = await b.dbStats();
  const tally1 = await b.tally(fleets.shards);
  const p1 = await b.pipeline();
  const lag = await b.lagOf(fleets.multi, halfStart, halfEnd);
  const result: IssuanceResult = {
    baseline,
    satMulti,
    satSingle,
    half,
    halfRate,
    drains: { multi: drainMulti, single: drainSingle, half: drainHalf },
    window: {
      receipts: half.load.status["201"] ?? 0,
      pipeline: [p0, p1],
      tally: [tally0, tally1],
      db: [db0, db1],
      cpu,
      lag,
    },
  };
  return result;
}
