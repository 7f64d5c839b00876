/**
 * The witness's one decision (C2SP tlog-witness add-checkpoint), apart from
 * HTTP and storage: given a request body, the logs it trusts and the latest
 * checkpoint it cosigned for the origin, answer with the status the spec
 * names, and cosign only a checkpoint consistent with that latest one.
 *
 * The check and the update are atomic through `OriginState.swap`: it stores
 * the new checkpoint only if the latest is still the one the check read.
 */
import { type Cosigner, cosign } from "../tlog/cosignature.ts";
import { type Hash, verifyConsistency } from "../tlog/merkle.ts";
import { type Checkpoint, openNote, parseCheckpoint, splitNote, type Verifier } from "../tlog/note.ts";
import { parseAddCheckpoint, SIZE_CONTENT_TYPE } from "../tlog/witness-protocol.ts";

/** A log the witness follows: every origin that starts with the prefix, each on its own. */
export type TrustedLog = { originPrefix: string; verifiers: Verifier[] };

/** The latest checkpoint cosigned for an origin: its size, root and the note as cosigned. */
export type Cosigned = { size: number; root: Hash; note: string };

export interface OriginState {
  latest(): Cosigned | null;
  /** Stores `next` only if the latest is still of size `expected` (null: none yet); false if it moved. */
  swap(expected: number | null, next: Cosigned): boolean;
}

export type Answer = { status: 200 | 400 | 403 | 404 | 409 | 422; contentType: string; body: string };

const text = (status: Answer["status"], body: string): Answer => ({
  status,
  contentType: "text/plain; charset=utf-8",
  body: `${body}\n`,
});
const sizeConflict = (size: number): Answer => ({ status: 409, contentType: SIZE_CONTENT_TYPE, body: `${size}\n` });

/** The checkpoint an add-checkpoint body carries, to route it by origin; null if the body is malformed. */
export function checkpointOf(body: string): Checkpoint | null {
  const req = parseAddCheckpoint(body);
  const note = req ? splitNote(req.note) : null;
  return note ? parseCheckpoint(note.text) : null;
}

export const logFor = (logs: TrustedLog[], origin: string): TrustedLog | undefined =>
  logs.find((l) => origin.startsWith(l.originPrefix));

const equal = (a: Hash, b: Hash) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Answers one add-checkpoint request. `onMisbehaviour` hears a signed
 * checkpoint that was refused for inconsistency (a 409 at the same size or a
 * 422): proof the log forked, worth keeping.
 */
export async function addCheckpoint(
  body: string,
  deps: {
    logs: TrustedLog[];
    state: OriginState;
    cosigner: Cosigner;
    /** Seconds since the epoch, for the cosignature's timestamp. */
    now: () => number;
    onMisbehaviour?: (what: { status: 409 | 422; oldSize: number; note: string }) => void;
  },
): Promise<Answer> {
  const req = parseAddCheckpoint(body);
  const parsed = req ? splitNote(req.note) : null;
  const checkpoint = parsed ? parseCheckpoint(parsed.text) : null;
  if (!req || !parsed || !checkpoint) return text(400, "malformed add-checkpoint request");
  const log = logFor(deps.logs, checkpoint.origin);
  if (!log) return text(404, "unknown log origin");
  const signed = await Promise.all(log.verifiers.map((v) => openNote(req.note, v)));
  if (!signed.some((t) => t !== null)) return text(403, "no signature from a trusted key for this origin");
  if (req.oldSize > checkpoint.size) return text(400, "old size is past the checkpoint's size");

  // Verify against the latest as read, then store only if it is still the latest (the race the spec names).
  for (;;) {
    const latest = deps.state.latest();
    const held = latest?.size ?? 0;
    if (req.oldSize !== held) return sizeConflict(held);
    if (latest && req.oldSize === checkpoint.size) {
      if (!equal(latest.root, checkpoint.root)) {
        deps.onMisbehaviour?.({ status: 409, oldSize: req.oldSize, note: req.note });
        return sizeConflict(held);
      }
    } else if (latest && !verifyConsistency(req.oldSize, checkpoint.size, req.proof, latest.root, checkpoint.root)) {
      deps.onMisbehaviour?.({ status: 422, oldSize: req.oldSize, note: req.note });
      return text(422, "the consistency proof does not verify");
    }
    const line = await cosign(parsed.text, deps.cosigner, deps.now());
    const next = { size: checkpoint.size, root: checkpoint.root, note: `${req.note}${line}` };
    if (deps.state.swap(latest ? latest.size : null, next))
      return { status: 200, contentType: "text/plain; charset=utf-8", body: line };
  }
}
