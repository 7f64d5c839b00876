/**
 * The refund's side of the saga (docs/refunds.md): reserve on the original's
 * ledger, issue here, then confirm there, or release if issuing failed. A
 * refund issued here is written with its confirmation in the same commit
 * (refund_sagas), so a restart between issuing and confirming only delays the
 * confirmation: the alarm sends it again until the ledger has it.
 */
import { describeError } from "../kit/describe-error.ts";
import type { ConfirmCall, HoldOutcome, LedgerPeer, ReserveAnswer, ReserveCall, ShardDeps } from "./ports.ts";
import type { ShardTables } from "./tables.ts";

type Saga = { shard: number; confirm: ConfirmCall };

export class RefundSagas {
  /** Holds reserved and not yet issued or released, in this instance's memory: a restart forgets them, on purpose. */
  private readonly pending = new Set<string>();
  private readonly tables: ShardTables;
  private readonly logger: ShardDeps["logger"];
  private readonly peer: (shard: number) => LedgerPeer;
  /** When the next retry of unconfirmed sagas is due (null: none waits). */
  private retryAt: number | null;

  constructor(tables: ShardTables, logger: ShardDeps["logger"], peer: (shard: number) => LedgerPeer, now: number) {
    this.tables = tables;
    this.logger = logger;
    this.peer = peer;
    this.retryAt = tables.sagas().length ? now : null;
  }

  async reserve(call: ReserveCall): Promise<ReserveAnswer> {
    this.pending.add(call.hold);
    try {
      const answer = await this.peer(call.shard).reserve(call);
      if (!("ok" in answer)) this.pending.delete(call.hold);
      return answer;
    } catch (e) {
      this.pending.delete(call.hold);
      this.logger.error({ msg: "refund: reserving failed", shard: call.shard, error: describeError(e) });
      return { reason: "unavailable" };
    }
  }

  /** Inside the commit that issues the refund: its confirmation, owed from now on. */
  record(shard: number, confirm: ConfirmCall): void {
    this.tables.putSaga(confirm.hold, JSON.stringify({ shard, confirm } satisfies Saga));
  }

  /** After that commit: the hold is covered by its saga row, no longer by memory. */
  issued(hold: string): void {
    this.pending.delete(hold);
  }

  /** Issuing failed or was refused after the reservation: give it back (the ledger's timeout is the fallback). */
  release(shard: number, counter: number, hold: string, attempt: number): void {
    this.pending.delete(hold);
    this.peer(shard)
      .release({ counter, hold, attempt })
      .catch((e) => this.logger.error({ msg: "refund: release failed", shard, error: describeError(e) }));
  }

  /** Sends one confirmation; true once the ledger has it. */
  async confirm(hold: string): Promise<boolean> {
    const row = this.tables.saga(hold);
    if (!row) return true;
    const saga = JSON.parse(row) as Saga;
    try {
      await this.peer(saga.shard).confirm(saga.confirm);
      this.tables.deleteSaga(hold);
      return true;
    } catch (e) {
      this.logger.error({ msg: "refund: confirm failed", shard: saga.shard, error: describeError(e) });
      return false;
    }
  }

  /** What the original's shard hears about a reservation that timed out. */
  outcome(hold: string): HoldOutcome {
    const row = this.tables.saga(hold);
    if (row) return { state: "issued", confirm: (JSON.parse(row) as Saga).confirm };
    return this.pending.has(hold) ? { state: "pending" } : { state: "unknown" };
  }

  /** The alarm: sends every confirmation still owed; returns when to try again. */
  async retry(now: number): Promise<void> {
    if (this.retryAt === null || this.retryAt > now) return;
    let left = 0;
    for (const { hold } of this.tables.sagas()) if (!(await this.confirm(hold))) left++;
    this.retryAt = left ? now + 5_000 : null;
  }

  /** A confirmation failed after issuing: the alarm must come back for it. */
  owe(now: number): void {
    this.retryAt = Math.min(this.retryAt ?? Number.POSITIVE_INFINITY, now + 5_000);
  }

  nextAt(): number | null {
    return this.retryAt;
  }
}
