/**
 * Witnessing (contract v1.2 "Witnessed checkpoints"): the shard submits its
 * latest signed checkpoint to every configured witness as C2SP tlog-witness
 * says, keeps the cosignatures that verify, and stores the checkpoint as
 * witnessed once the quorum cosigned it. Only witnessed checkpoints are served.
 *
 * Batching: only the newest checkpoint is submitted, one run at a time, so a
 * shard that signs every second sends each witness at most one request a
 * second and skips whatever it signed while a request was out.
 *
 * A refusal (422, a 409 on equal sizes, 400, 403, 404, or a witness holding a
 * larger tree) is counted, logged and never retried blindly: only for a newer
 * checkpoint, and not within REFUSAL_RETRY_MS. A 5xx, a timeout or no answer is
 * retried with capped backoff, so a witness that answers again cosigns within
 * about MAX_BACKOFF_MS plus one checkpoint.
 */
import { describeError } from "../kit/describe-error.ts";
import type { Logger } from "../kit/logger.ts";
import { cosignedAt } from "../tlog/cosignature.ts";
import type { Hash } from "../tlog/merkle.ts";
import {
  formatAddCheckpoint,
  parseSizeBody,
  SIZE_CONTENT_TYPE,
  type Witness,
  type WitnessPolicy,
} from "../tlog/witness-protocol.ts";
import type { SignedCheckpoint } from "./log.ts";
import type { RefusalRow, ShardTables } from "./tables.ts";

const TIMEOUT_MS = 5_000;
const MAX_BACKOFF_MS = 8_000;
const REFUSAL_RETRY_MS = 10 * 60_000;
/** After a run that failed as a whole (WITNESSES does not parse), wait this long: never an alarm spin. */
const ERROR_RETRY_MS = 60_000;
/** Witnessed checkpoints kept besides those kept for good: the newest this many. */
const RECENT = 64;
/** One witnessed checkpoint an hour is kept for good (proofs against an older tree stay checkable). */
const KEEP_EVERY_MS = 3_600_000;

export type WitnessFetch = (url: string, init: RequestInit) => Promise<Response>;

export type WitnessingDeps = {
  tables: ShardTables;
  clock: () => number;
  logger: Logger;
  fetch: WitnessFetch;
  policy: () => Promise<WitnessPolicy>;
  /** The consistency proof between two sizes of this shard's tree (empty from 0 or between equal sizes). */
  proof: (from: number, to: number) => Promise<Hash[]>;
  /** Called when a run ends, so the shard can schedule a retry. */
  settled: () => void;
};

export type WitnessStats = {
  /** The size and age of the latest checkpoint that met the quorum (null: none yet). */
  witnessedSize: number | null;
  witnessedAgeMs: number | null;
  /** How long the latest signed checkpoint has waited for the quorum (0: it has it). */
  unwitnessedMs: number;
  quorum: number;
  witnesses: number;
  /** Refusals per witness and status since the shard's first (counted for good). */
  refusals: RefusalRow[];
};

export class ShardWitnessing {
  private readonly deps: WitnessingDeps;
  /** What each witness (by vkey) holds, as last heard; unknown after a restart (it says, with a 409). */
  private readonly held = new Map<string, number>();
  /** The cosignature lines gathered for `target`, per witness. */
  private readonly lines = new Map<string, string>();
  private readonly retryAt = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly refused = new Map<string, { size: number; at: number }>();
  private target: SignedCheckpoint | null = null;
  private latest: SignedCheckpoint | null;
  private running: Promise<void> | null = null;
  /** No run before this (a run failed as a whole). */
  private pausedUntil = 0;
  private quorum = 0;
  private count = 0;

  constructor(deps: WitnessingDeps) {
    this.deps = deps;
    const row = deps.tables.latestWitnessed();
    this.latest = row ? { size: row.size, note: row.note, signedAt: row.witnessed_at } : null;
  }

  /** The latest checkpoint that met the quorum, with its cosignatures (null: none yet). */
  get witnessed(): SignedCheckpoint | null {
    return this.latest;
  }

  /** A witnessed checkpoint of exactly `size` that was kept, or null. */
  at(size: number): string | null {
    return this.deps.tables.witnessedAt(size)?.note ?? null;
  }

  /** Whether `signed` (the latest signed checkpoint) is witnessed already. */
  covers(signed: SignedCheckpoint | null): boolean {
    return (
      !signed || (this.latest !== null && this.latest.size === signed.size && this.latest.note.startsWith(signed.note))
    );
  }

  /** Starts submitting `signed` unless it is witnessed or a run is under way (one at a time). */
  kick(signed: SignedCheckpoint | null, shard: number): void {
    if (!signed || this.running || this.covers(signed)) return;
    this.running = this.run(signed, shard)
      .catch((e) => {
        this.pausedUntil = this.deps.clock() + ERROR_RETRY_MS;
        this.deps.logger.error({ msg: "witnessing failed", shard, error: describeError(e) });
      })
      .finally(() => {
        this.running = null;
        this.deps.settled();
      });
  }

  /** Resolves once the current run (if any) is over. */
  async idle(): Promise<void> {
    await this.running;
  }

  /** When a witness that has not cosigned the current target may be asked again (null: nothing owed). */
  nextAt(signed: SignedCheckpoint | null): number | null {
    if (this.running || !signed || this.covers(signed)) return null;
    const now = this.deps.clock();
    if (this.pausedUntil > now) return this.pausedUntil;
    if (this.target?.size !== signed.size || this.target.note !== signed.note) return now;
    // Those down wait out their backoff; those that refused, a newer checkpoint and REFUSAL_RETRY_MS.
    const times = [...this.retryAt.values()];
    for (const r of this.refused.values()) if (signed.size > r.size) times.push(r.at + REFUSAL_RETRY_MS);
    return times.length ? Math.max(now, Math.min(...times)) : null;
  }

  stats(signed: SignedCheckpoint | null): WitnessStats {
    const now = this.deps.clock();
    return {
      witnessedSize: this.latest?.size ?? null,
      witnessedAgeMs: this.latest ? now - this.latest.signedAt : null,
      unwitnessedMs: signed && !this.covers(signed) ? Math.max(0, now - signed.signedAt) : 0,
      quorum: this.quorum,
      witnesses: this.count,
      refusals: this.deps.tables.refusals(),
    };
  }

  private async run(signed: SignedCheckpoint, shard: number): Promise<void> {
    const policy = await this.deps.policy();
    this.quorum = policy.quorum;
    this.count = policy.witnesses.length;
    if (this.target?.size !== signed.size || this.target.note !== signed.note) {
      this.target = signed;
      this.lines.clear();
    }
    const target = signed;
    const now = this.deps.clock();
    const due = policy.witnesses.filter((w) => !this.lines.has(w.vkey) && this.mayAsk(w, target, now));
    this.witnessIfQuorum(target, policy);
    await Promise.all(
      due.map(async (w) => {
        await this.submit(w, target, shard);
        this.witnessIfQuorum(target, policy);
      }),
    );
  }

  private mayAsk(w: Witness, target: SignedCheckpoint, now: number): boolean {
    if ((this.retryAt.get(w.vkey) ?? 0) > now) return false;
    const refused = this.refused.get(w.vkey);
    return !refused || (target.size > refused.size && now >= refused.at + REFUSAL_RETRY_MS);
  }

  /** Stores the target as witnessed once `quorum` witnesses cosigned it (again as more cosign). */
  private witnessIfQuorum(target: SignedCheckpoint, policy: WitnessPolicy): void {
    if (this.target !== target) return; // a newer checkpoint replaced it meanwhile
    const lines = policy.witnesses.flatMap((w) => this.lines.get(w.vkey) ?? []);
    if (lines.length < policy.quorum) return;
    const note = `${target.note}${lines.join("")}`;
    if (this.latest && (this.latest.size > target.size || this.latest.note === note)) return;
    const now = this.deps.clock();
    const last = this.deps.tables.lastKeptAt();
    const keep = last === null || now - last >= KEEP_EVERY_MS;
    this.deps.tables.putWitnessed({ size: target.size, note, witnessedAt: now }, keep, RECENT);
    this.latest = { size: target.size, note, signedAt: this.latest?.size === target.size ? this.latest.signedAt : now };
  }

  private async submit(w: Witness, target: SignedCheckpoint, shard: number): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const old = this.held.get(w.vkey) ?? 0;
      if (old > target.size) return this.refuse(w, 409, target, shard, `the witness holds a larger tree (${old})`);
      const proof = await this.deps.proof(old, target.size);
      let res: Response;
      let text: string;
      try {
        res = await this.deps.fetch(`${w.url}/add-checkpoint`, {
          method: "POST",
          body: formatAddCheckpoint({ oldSize: old, proof, note: target.note }),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        text = await res.text();
      } catch (e) {
        return this.failed(w, shard, `no answer: ${describeError(e)}`);
      }
      if (res.status === 200) {
        const mine = text
          .split("\n")
          .filter((l) => l.startsWith(`— ${w.name} `))
          .map((l) => `${l}\n`)
          .join("");
        if ((await cosignedAt(`${target.note}${mine}`, w.verifier)) === null) {
          return this.failed(w, shard, "answered 200 without a valid cosignature");
        }
        this.lines.set(w.vkey, mine);
        this.held.set(w.vkey, target.size);
        this.failures.delete(w.vkey);
        this.retryAt.delete(w.vkey);
        this.refused.delete(w.vkey);
        return;
      }
      const size =
        res.status === 409 && res.headers.get("content-type")?.startsWith(SIZE_CONTENT_TYPE)
          ? parseSizeBody(text)
          : null;
      if (size !== null && size !== old) {
        this.held.set(w.vkey, size); // stale: ask again from the size it holds
        continue;
      }
      if (res.status === 409 || [400, 403, 404, 422].includes(res.status)) {
        const why =
          size === old && old === target.size
            ? "another root at the same size (a split view)"
            : text.trim().slice(0, 200);
        return this.refuse(w, res.status, target, shard, why);
      }
      return this.failed(w, shard, `answered ${res.status}`);
    }
    return this.failed(w, shard, "kept answering 409 with a moving size");
  }

  private refuse(w: Witness, status: number, target: SignedCheckpoint, shard: number, detail: string): void {
    const now = this.deps.clock();
    this.refused.set(w.vkey, { size: target.size, at: now });
    this.deps.tables.countRefusal({ witness: w.name, status, size: target.size, at: now, detail });
    this.deps.logger.error({
      msg: "witness refused the checkpoint",
      shard,
      witness: w.name,
      status,
      size: target.size,
      detail,
    });
  }

  private failed(w: Witness, shard: number, why: string): void {
    const n = (this.failures.get(w.vkey) ?? 0) + 1;
    this.failures.set(w.vkey, n);
    this.retryAt.set(w.vkey, this.deps.clock() + Math.min(MAX_BACKOFF_MS, 500 * 2 ** (n - 1)));
    this.deps.logger.warn({ msg: "witness unavailable", shard, witness: w.name, failures: n, why });
  }
}
