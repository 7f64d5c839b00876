/**
 * The same issuance with Durable Object state on the other medium. workerd's
 * SQLite writes run on the isolate's one thread, so on a disk they stall every
 * shard and the Worker too; a second workerd with its state on tmpfs (or disk,
 * with --state-tmpfs) shows how much of each figure that is.
 */
import { resolve } from "node:path";
import { setupFleet } from "../fleet.ts";
import { runLoad } from "../load.ts";
import { type BenchRun, type Lag, OPERATOR_TOKEN, type Phase } from "../run.ts";
import { removeDir, startWorkers } from "../stack.ts";
import { type Profiled, profiled } from "./profiled.ts";

export type SecondWorkerd = { state: string; satMulti: Phase; satSingle: Phase; half: Phase; lag: Lag };

export async function secondWorkerd(
  b: BenchRun,
  o: {
    state: "tmpfs" | "disk";
    runDir: string;
    script: string;
    instrumented: boolean;
    vars: Record<string, string>;
    profile: boolean;
  },
): Promise<{ other: SecondWorkerd; profile: Profiled }> {
  const { state } = o;
  const PHASE = b.o.phaseSec;
  b.say(`second workerd with its Durable Object state on ${state}: the issuance phases again`);
  await b.o.workers.dispose();
  const dir = state === "tmpfs" ? `/dev/shm/tillproof-bench-${process.pid}-2` : resolve(o.runDir, "workerd-2");
  if (state === "tmpfs") b.o.cleanup.add("tmpfs state 2", () => removeDir(dir));
  const w2 = await startWorkers({
    script: o.script,
    instrumented: o.instrumented,
    // Fresh shards over the same Postgres count from 1 again: another CODE_KEY gives their codes
    // other check digits, so they never collide with the first workerd's (Postgres refuses a code twice).
    vars: { ...o.vars, CODE_KEY: `${o.vars.CODE_KEY}-2` },
    persistDir: dir,
    inspector: o.profile,
    cleanup: b.o.cleanup,
  });
  const pids = { ...b.o.cpuPids, workerd: w2.workerdPid };
  b.pipelineBase = w2.productUrl;
  const fleet = (prefix: string, stores: number, terminals: number, tenants: number) =>
    setupFleet({ base: w2.productUrl, operatorToken: OPERATOR_TOKEN, prefix, tenants, stores, terminals });
  const multi = await fleet(`b${b.o.runTag}n`, 64, 128, 4);
  const single = await fleet(`b${b.o.runTag}t`, 1, 8, 1);
  b.count201(
    await runLoad({
      label: "warm-up",
      url: w2.productUrl,
      connections: 16,
      durationSec: 2,
      maxRequests: 50_000,
      next: b.issuer(multi),
    }),
  );
  await b.drain();
  const saturation = (label: string, connections: number, next: ReturnType<BenchRun["issuer"]>) =>
    b.phase({ label, url: w2.productUrl, connections, durationSec: PHASE, maxRequests: 100_000, next }, pids);
  const satMulti = await saturation(`issue, 64 stores (${state})`, 16, b.issuer(multi));
  await b.drain();
  const satSingle = await saturation(`issue, 1 store (${state})`, 8, b.issuer(single));
  await b.drain();
  const rate = Math.max(10, Math.round(satMulti.load.rps / 2));
  const from = new Date(Date.now() - 50);
  const half = await b.phase(
    {
      label: `issue @50% (${state})`,
      url: w2.productUrl,
      connections: 50,
      rate,
      durationSec: PHASE,
      maxRequests: rate * PHASE * 2,
      next: b.issuer(multi),
    },
    pids,
  );
  const to = new Date();
  await b.drain();
  const other = { state, satMulti, satSingle, half, lag: await b.lagOf(multi, from, to) };
  const profile = o.profile ? await profiled(b, w2, { script: o.script, fleet: multi, pids }) : null;
  return { other, profile };
}
