/**
 * Terminals as monitors of the log (contract v1.2, "Witnessed checkpoints"):
 * the client remembers each receipt it was given (code and hash) until a
 * witnessed checkpoint is seen to include exactly that hash at exactly that
 * code's entry, and keeps the largest checkpoint per shard it verified, so
 * that a log that forked or rolled back since is caught by the tills whose
 * receipts it holds. Only the public API is read; only pinned keys are trusted.
 */
import { codeRoute } from "../../core/code.ts";
import { fromHex, type Hash, leafHash, toHex, verifyInclusion } from "../../tlog/merkle.ts";
import { checkCheckpoint, checkGrowth, openPins, type Pins } from "../../tlog/monitor.ts";
import type { Checkpoint } from "../../tlog/note.ts";

export type Watched = { code: string; hash: string; receivedAt: string };

export type MonitorState = {
  /** The keys trusted: given to the client, or the gateway's own on the first audit (then kept as they were). */
  pins: Pins | null;
  /** Receipts not yet seen in a witnessed checkpoint. */
  watching: Watched[];
  /** The largest verified checkpoint per log origin. */
  kept: Record<string, { size: number; root: string }>;
};

/** Something the POS should raise: the log does not hold what this terminal was given, or forked. */
export type AuditEvent =
  | { kind: "fork"; origin: string; detail: string }
  | { kind: "mismatch"; code: string; detail: string }
  | { kind: "unwitnessed"; code: string; detail: string };

export type AuditReport = { confirmed: string[]; waiting: number; events: AuditEvent[] };

type Get = (path: string) => Promise<{ status: number; body: unknown }>;

export const emptyMonitor = (): MonitorState => ({ pins: null, watching: [], kept: {} });

type Verified = {
  proof: { shard: number; leafIndex: number; treeSize: number; inclusion: string[]; checkpoint: string } | null;
  hash?: string;
};

export async function auditReceipts(
  state: MonitorState,
  get: Get,
  opts: { now: number; unwitnessedAfterMs: number },
): Promise<{ state: MonitorState; report: AuditReport }> {
  const pinsGiven = state.pins ?? ((await get("/v1/log/witnesses")).body as Pins);
  const pins = await openPins(pinsGiven);
  const kept = { ...state.kept };
  const report: AuditReport = { confirmed: [], waiting: 0, events: [] };
  const forked = new Set<string>();

  /** Checks a served checkpoint against the pins and against the kept one; keeps it if it is larger. */
  const admit = async (note: string, shard: number): Promise<Checkpoint | null> => {
    const origin = `${pins.origin}/${shard}`;
    const verdict = await checkCheckpoint(note, pins, origin);
    if (!verdict.ok) {
      report.events.push({ kind: "fork", origin, detail: `the gateway served a checkpoint ${verdict.reason}` });
      return null;
    }
    const before = kept[origin];
    const had: Checkpoint | null = before ? { origin, size: before.size, root: fromHex(before.root) } : null;
    const problem = await checkGrowth(had, verdict.checkpoint, async (from, to) => {
      const { status, body } = await get(`/v1/log/${shard}/proof/consistency?from=${from}&to=${to}`);
      if (status !== 200) throw new Error(`HTTP ${status}`);
      return (body as { consistency: string[] }).consistency.map(fromHex);
    });
    if (problem) {
      if (!forked.has(origin)) report.events.push({ kind: "fork", origin, detail: problem });
      forked.add(origin);
      return null;
    }
    if (!had || had.size < verdict.checkpoint.size) {
      kept[origin] = { size: verdict.checkpoint.size, root: toHex(verdict.checkpoint.root) };
    }
    return verdict.checkpoint;
  };

  const watching: Watched[] = [];
  for (const w of state.watching) {
    const route = codeRoute(w.code.replaceAll("-", ""));
    const { status, body } = await get(`/v1/verify/${encodeURIComponent(w.code)}`);
    const proof = status === 200 ? (body as Verified).proof : null;
    if (!route || (status !== 200 && status < 500 && status !== 429)) {
      report.events.push({
        kind: "mismatch",
        code: w.code,
        detail: `the gateway does not know this receipt (HTTP ${status})`,
      });
      continue;
    }
    if (!proof) {
      watching.push(w);
      if (opts.now - Date.parse(w.receivedAt) > opts.unwitnessedAfterMs) {
        report.events.push({ kind: "unwitnessed", code: w.code, detail: "no witnessed checkpoint includes it yet" });
      }
      continue;
    }
    const cp = await admit(proof.checkpoint, proof.shard);
    if (!cp) {
      watching.push(w);
      continue;
    }
    const included =
      proof.shard === route.shard &&
      proof.leafIndex === route.counter - 1 &&
      cp.size === proof.treeSize &&
      verifyInclusion(
        leafHash(fromHex(w.hash) as Hash),
        proof.leafIndex,
        cp.size,
        proof.inclusion.map(fromHex),
        cp.root,
      );
    if (included) report.confirmed.push(w.code);
    else {
      report.events.push({
        kind: "mismatch",
        code: w.code,
        detail: "the witnessed log does not hold the hash this terminal was given at its entry",
      });
    }
  }
  // Shards this terminal watched before: their current checkpoint must still extend the kept one.
  for (const origin of Object.keys(state.kept)) {
    const shard = Number(origin.slice(pins.origin.length + 1));
    if (forked.has(origin) || !origin.startsWith(`${pins.origin}/`) || !Number.isInteger(shard)) continue;
    const { status, body } = await get(`/v1/log/${shard}/checkpoint`);
    if (status === 200 && typeof body === "string") await admit(body, shard);
  }
  report.waiting = watching.length;
  return { state: { pins: pinsGiven, watching, kept }, report };
}
