/**
 * The refund ledgers of the originals this shard issued (docs/refunds.md):
 * reserve, confirm, release, and what verify tells about a sale. The rules
 * are core/refunds.ts; this keeps each ledger in its row and looks into
 * reservations nobody confirmed in time, by asking the refund's shard.
 */
import type { ChainRecord } from "../core/receipt.ts";
import { confirm, type Ledger, nextExpiry, originalOf, release, reserve, summary } from "../core/refunds.ts";
import { describeError } from "../kit/describe-error.ts";
import type { ConfirmCall, LedgerPeer, ReserveAnswer, ReserveCall, ShardDeps } from "./ports.ts";
import type { ShardTables } from "./tables.ts";

/** A reservation is looked into this long after it was made (or last renewed) if nobody confirmed it. */
export const HOLD_MS = 30_000;
/** When asking the refund's shard fails, ask again this much later. */
const ASK_AGAIN_MS = 15_000;

export type RefundSummary = ReturnType<typeof summary>;

export class RefundLedgers {
  private readonly tables: ShardTables;
  private readonly deps: Pick<ShardDeps, "clock" | "config" | "logger" | "findRecord">;
  /** The original's record while the ring still holds it. */
  private readonly held: (counter: number) => ChainRecord | null;
  private readonly logSize: () => number;
  /**
   * When the earliest reserved hold is due, kept in memory so scheduling the
   * alarm after every receipt reads nothing. It may be early (a hold renewed
   * or confirmed since), never late: a sweep finds nothing and reads it again.
   */
  private due: number | null;

  constructor(
    tables: ShardTables,
    deps: Pick<ShardDeps, "clock" | "config" | "logger" | "findRecord">,
    held: (counter: number) => ChainRecord | null,
    logSize: () => number,
  ) {
    this.tables = tables;
    this.deps = deps;
    this.held = held;
    this.logSize = logSize;
    this.due = tables.firstLedgerDue();
  }

  private load(counter: number): Ledger | null {
    const row = this.tables.ledger(counter);
    return row ? (JSON.parse(row) as Ledger) : null;
  }

  private save(counter: number, l: Ledger): void {
    const due = nextExpiry(l);
    this.tables.putLedger(counter, JSON.stringify(l), due);
    if (due !== null && (this.due === null || due < this.due)) this.due = due;
  }

  /**
   * What the original allows, read from its record the first time (the ring,
   * else the record store); null if this shard never issued `code`.
   */
  private async original(counter: number, code: string): Promise<Ledger["original"] | null> {
    const known = this.load(counter);
    if (known) return known.original;
    if (counter < 1 || counter > this.logSize()) return null;
    const record = this.held(counter) ?? (await this.deps.findRecord(code));
    return record && record.code === code ? originalOf(record) : null;
  }

  async reserve(call: ReserveCall): Promise<ReserveAnswer> {
    let original: Ledger["original"] | null;
    try {
      original = await this.original(call.counter, call.code);
    } catch (e) {
      this.deps.logger.error({ msg: "refund: original unreadable", code: call.code, error: describeError(e) });
      return { reason: "unavailable" };
    }
    if (!original || original.code !== call.code) return { reason: "original_not_found" };
    // From here to the write nothing awaits: the ledger read now is the one this reservation changes.
    const ledger = this.load(call.counter) ?? { original, holds: [] };
    const now = this.deps.clock();
    const { shard: _s, counter: _c, code: _code, ...asked } = call;
    const out = reserve(ledger, {
      ...asked,
      now,
      expiresAt: now + HOLD_MS,
      voidWindowMs: this.deps.config.voidWindowMs,
    });
    if ("reason" in out) return out;
    this.save(call.counter, out);
    const hold = out.holds.find((h) => h.id === call.hold);
    if (!hold) throw new Error("reserve: the hold is missing from its own ledger");
    return { ok: true, attempt: hold.attempt, claim: hold.claim };
  }

  confirm(call: ConfirmCall): void {
    const ledger = this.load(call.counter);
    if (!ledger) {
      // Every confirm follows a reservation, which opened the ledger: this cannot happen, and is loud if it does.
      this.deps.logger.error({ msg: "refund: confirm without a ledger", counter: call.counter, hold: call.hold });
      return;
    }
    this.save(call.counter, confirm(ledger, call));
  }

  release(call: { counter: number; hold: string; attempt?: number }): void {
    const ledger = this.load(call.counter);
    if (!ledger) return;
    const after = release(ledger, call.hold, call.attempt);
    if (after !== ledger) this.save(call.counter, after);
  }

  /** What verify adds for a sale (null: nothing was ever refunded or voided, or not a sale). */
  summary(counter: number): RefundSummary | null {
    const ledger = this.load(counter);
    return ledger && ledger.original.kind === "sale" ? summary(ledger) : null;
  }

  /** When a reserved hold next times out. */
  nextAt(): number | null {
    return this.due;
  }

  /**
   * Looks into every reservation that timed out: its shard says it issued
   * (confirm), is still at it (renew) or knows nothing of it (release, unless
   * it was reserved again meanwhile). A shard that cannot be asked keeps the
   * hold: over-reserving for a while refuses a refund, never gives back twice.
   */
  async sweep(peer: (shard: number) => LedgerPeer): Promise<void> {
    const now = this.deps.clock();
    if (this.due === null || this.due > now) return;
    for (const { counter } of this.tables.dueLedgers(now, 50)) {
      const ledger = this.load(counter);
      if (!ledger) continue;
      for (const h of ledger.holds.filter((x) => x.state === "reserved" && x.expiresAt <= now)) {
        try {
          const outcome = await peer(h.from).holdOutcome(h.id);
          if (outcome.state === "issued") this.confirm(outcome.confirm);
          else if (outcome.state === "unknown") this.release({ counter, hold: h.id, attempt: h.attempt });
          else this.renew(counter, h.id, this.deps.clock() + HOLD_MS);
        } catch (e) {
          this.deps.logger.error({ msg: "refund: asking the refund's shard failed", error: describeError(e) });
          this.renew(counter, h.id, this.deps.clock() + ASK_AGAIN_MS);
        }
      }
    }
    this.due = this.tables.firstLedgerDue();
  }

  private renew(counter: number, hold: string, at: number): void {
    const ledger = this.load(counter);
    if (!ledger) return;
    this.save(counter, {
      ...ledger,
      holds: ledger.holds.map((h) => (h.id === hold && h.state === "reserved" ? { ...h, expiresAt: at } : h)),
    });
  }
}
