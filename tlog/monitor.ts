/**
 * What a monitor (an auditor, a terminal, a browser) checks of a checkpoint it
 * is handed, trusting only keys it pinned beforehand: the log's signature, the
 * exact origin, a quorum of witness cosignatures, and that the tree only grew
 * since the largest checkpoint it kept (RFC 9162 consistency). Pure, WebCrypto only.
 */
import { cosignatureCount, parseCosignerVkey } from "./cosignature.ts";
import { type Hash, toHex, verifyConsistency } from "./merkle.ts";
import { type Checkpoint, openNote, parseCheckpoint, parseVerifierKey, type Verifier } from "./note.ts";

/** What a verifier pins: the shape of the gateway's `GET /v1/log/witnesses`. */
export type Pins = { log: { origin: string; vkey: string }; witnesses: { vkey: string }[]; quorum: number };
export type OpenedPins = { origin: string; log: Verifier; witnesses: Verifier[]; quorum: number };

/** Reads pins, refusing keys that do not parse and a quorum the witnesses cannot meet. */
export async function openPins(pins: Pins): Promise<OpenedPins> {
  const log = await parseVerifierKey(pins.log.vkey);
  if (!log) throw new Error(`pins: the log key "${pins.log.vkey}" is not a verifier key`);
  const witnesses = await Promise.all(
    pins.witnesses.map(async (w) => {
      const v = await parseCosignerVkey(w.vkey);
      if (!v) throw new Error(`pins: "${w.vkey}" is not a cosigner (0x04) key`);
      return v;
    }),
  );
  const ids = new Set(witnesses.map((w) => `${w.name}+${toHex(w.keyId)}`));
  if (ids.size !== witnesses.length) throw new Error("pins: a witness is listed twice (a quorum counts witnesses)");
  if (!Number.isInteger(pins.quorum) || pins.quorum < 0 || pins.quorum > witnesses.length) {
    throw new Error(`pins: a quorum of ${pins.quorum} out of ${witnesses.length} witnesses`);
  }
  return { origin: pins.log.origin, log, witnesses, quorum: pins.quorum };
}

export type CheckpointVerdict = { ok: true; checkpoint: Checkpoint; cosigned: number } | { ok: false; reason: string };

/** The note's checkpoint if the pinned log signed it for exactly `origin` and the quorum cosigned it. */
export async function checkCheckpoint(note: string, pins: OpenedPins, origin: string): Promise<CheckpointVerdict> {
  const text = await openNote(note, pins.log);
  const checkpoint = text ? parseCheckpoint(text) : null;
  if (!checkpoint) return { ok: false, reason: `not a checkpoint signed by ${pins.log.name}` };
  if (checkpoint.origin !== origin) return { ok: false, reason: `names the log ${checkpoint.origin}, not ${origin}` };
  const cosigned = await cosignatureCount(note, pins.witnesses);
  if (cosigned < pins.quorum) {
    return { ok: false, reason: `cosigned by ${cosigned} of the pinned witnesses, below the quorum of ${pins.quorum}` };
  }
  return { ok: true, checkpoint, cosigned };
}

/**
 * Null if `next` extends `kept` (the largest checkpoint of this log seen
 * before), else why not: a smaller tree, another root at the same size, or a
 * consistency proof that fails (a fork). `proof` fetches the proof from→to.
 */
export async function checkGrowth(
  kept: Checkpoint | null,
  next: Checkpoint,
  proof: (from: number, to: number) => Promise<Hash[]>,
): Promise<string | null> {
  if (!kept || kept.size === 0) return null;
  if (kept.origin !== next.origin) return `another log: ${next.origin}, not ${kept.origin}`;
  if (next.size < kept.size) return `the tree shrank from ${kept.size} to ${next.size} entries`;
  if (next.size === kept.size) {
    return toHex(next.root) === toHex(kept.root) ? null : `two different trees of ${next.size} entries (a split view)`;
  }
  let hashes: Hash[];
  try {
    hashes = await proof(kept.size, next.size);
  } catch (e) {
    return `no consistency proof from ${kept.size} to ${next.size} entries: ${(e as Error).message}`;
  }
  if (!verifyConsistency(kept.size, next.size, hashes, kept.root, next.root)) {
    return `the tree of ${next.size} entries does not extend the one of ${kept.size} seen before (a fork)`;
  }
  return null;
}
