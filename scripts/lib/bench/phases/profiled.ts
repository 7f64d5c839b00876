/** 6 s of issuance at saturation under V8's sampling profiler (the inspector is on for one workerd only). */
import type { CpuPids } from "../cpu.ts";
import type { Fleet } from "../fleet.ts";
import { type ProfileSummary, startProfile } from "../profile.ts";
import type { BenchRun, Phase } from "../run.ts";
import type { Workers } from "../stack.ts";

export type Profiled = { summary: ProfileSummary; phase: Phase } | null;

export async function profiled(
  b: BenchRun,
  w: Workers,
  o: { script: string; fleet: Fleet; pids: CpuPids },
): Promise<Profiled> {
  if (!w.inspectorPort) return null;
  b.say("CPU profile of the isolate during 6 s of issuance at saturation (64 stores)");
  let result: Profiled = null;
  try {
    const stop = await startProfile(w.inspectorPort, "tillproof", `${o.script}.map`);
    const phase = await b.phase(
      {
        label: "issue (profiled)",
        url: w.productUrl,
        connections: 16,
        durationSec: 6,
        maxRequests: 100_000,
        next: b.issuer(o.fleet),
      },
      o.pids,
    );
    result = { phase, summary: await stop() };
  } catch (e) {
    b.say(`profile failed: ${(e as Error).message}`);
  }
  await b.drain();
  return result;
}
