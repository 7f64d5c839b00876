/**
 * The log's size at each lottery draw's close (contract v1.1: the leaves with
 * receivedAt < closesAt). receivedAt never decreases along the log (ShardLog.clock),
 * so that size is one number: the log's size when the first receipt stamped at
 * or after the close was committed. A draw's close is registered in advance
 * (at its creation); the commit that crosses it records the size in its own
 * transaction, so a restart between the close and the run changes nothing.
 */
import type { ShardTables } from "./tables.ts";

/** The size at a close ("cut"), or why there is none: the close is ahead, or was crossed unregistered. */
export type Cut = { state: "cut" | "pending" | "unknown"; size: number };

const NOTHING = () => {};

export class LotteryCuts {
  /** Closes registered and not yet crossed, ascending. */
  private pending: number[];
  private readonly recorded = new Map<number, number>();
  /** The latest recorded close (read by every commit, so kept rather than derived each time). */
  private floor_ = 0;
  private readonly tables: ShardTables;

  constructor(tables: ShardTables) {
    this.tables = tables;
    this.pending = [];
    for (const c of tables.lotteryCuts()) {
      if (c.size === null) this.pending.push(c.closesAt);
      else this.record(c.closesAt, c.size);
    }
  }

  /**
   * No receipt may be stamped before a close whose cut is recorded: a cut
   * taken at the run (the clock past the close, nothing crossed it yet) holds
   * only if later receipts are stamped at or after the close, whatever the
   * clock does afterwards.
   */
  get floor(): number {
    return this.floor_;
  }

  /**
   * Inside a commit's transaction, before its receipts are appended: every
   * registered close at or before `receivedAt` gets the size before them.
   * Returns what to do once the transaction committed.
   */
  crossing(receivedAt: number, sizeBefore: number): () => void {
    // The hot path: nothing pending, or the earliest close still ahead (pending is ascending).
    if (!this.pending.length || (this.pending[0] ?? 0) > receivedAt) return NOTHING;
    const crossed = this.pending.filter((t) => t <= receivedAt);
    for (const t of crossed) this.tables.putLotteryCut(t, sizeBefore);
    return () => {
      this.pending = this.pending.filter((t) => t > receivedAt);
      for (const t of crossed) this.record(t, sizeBefore);
    };
  }

  /**
   * The size at `closesAt`, registering the close if it is still ahead. Once
   * the close has passed and no receipt crossed it, the size now is the size
   * at the close (every later receipt is stamped after now), and is recorded.
   * A close this shard never heard of, crossed already, cannot be told: unknown.
   */
  cutAt(closesAt: number, now: number, log: { size: number; lastReceivedAt: number }): Cut {
    const known = this.recorded.get(closesAt);
    if (known !== undefined) return { state: "cut", size: known };
    if (now < closesAt) {
      if (!this.pending.includes(closesAt)) {
        this.tables.putLotteryCut(closesAt, null);
        this.pending = [...this.pending, closesAt].sort((a, b) => a - b);
      }
      return { state: "pending", size: 0 };
    }
    if (log.lastReceivedAt >= closesAt) return { state: "unknown", size: 0 };
    this.tables.putLotteryCut(closesAt, log.size);
    this.pending = this.pending.filter((t) => t !== closesAt);
    this.record(closesAt, log.size);
    return { state: "cut", size: log.size };
  }

  private record(closesAt: number, size: number): void {
    this.recorded.set(closesAt, size);
    this.floor_ = Math.max(this.floor_, closesAt);
  }
}
