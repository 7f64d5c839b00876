/**
 * A circuit breaker for connecting to a dependency. Once `threshold` attempts
 * in a row failed, it opens: calls fail at once until a single trial (half-open)
 * may go; the trial's success closes it, its failure opens it again for twice
 * as long, up to `maxOpenMs`, so probes of a long outage are single and rare.
 * An attempt still pending after `slowMs` counts as suspect at once: until it
 * ends, no other attempt starts (a black-holed server would otherwise hold
 * every request for the whole connect timeout). Pure: the caller passes the time.
 */
export type BreakerState = "closed" | "open" | "half-open";

export type BreakerOptions = {
  threshold: number;
  openMs: number;
  maxOpenMs?: number;
  slowMs?: number;
  /** An attempt never settled after this long was lost (its request cancelled): it counts as failed. */
  lostMs?: number;
};

export class Breaker {
  private failures = 0;
  private openUntil = 0;
  private openMs: number;
  private trial = false;
  private trialAt = 0;
  /** Start times of the attempts in flight. */
  private readonly pending: number[] = [];
  private readonly o: Required<BreakerOptions>;

  constructor(o: BreakerOptions) {
    this.o = { maxOpenMs: o.openMs, slowMs: Number.POSITIVE_INFINITY, lostMs: Number.POSITIVE_INFINITY, ...o };
    this.openMs = o.openMs;
  }

  state(now: number): BreakerState {
    if (this.failures < this.o.threshold) return "closed";
    return now < this.openUntil ? "open" : "half-open";
  }

  /** Whether an attempt may start now; in half-open, or while one is suspiciously slow, only one at a time. */
  allow(now: number): boolean {
    this.forgetLost(now);
    const s = this.state(now);
    if (s === "open") return false;
    if (s === "closed") {
      if (this.slow(now)) return false;
      this.pending.push(now);
      return true;
    }
    if (this.trial) return false;
    this.trial = true;
    this.trialAt = now;
    this.pending.push(now);
    return true;
  }

  /** Milliseconds until an attempt may be tried again (0 when it may now). */
  retryInMs(now: number): number {
    if (this.state(now) === "open") return this.openUntil - now;
    return this.slow(now) ? this.o.slowMs : 0;
  }

  /** The attempt allowed at `startedAt` succeeded. */
  success(startedAt?: number): void {
    this.settle(startedAt);
    this.failures = 0;
    this.trial = false;
    this.openMs = this.o.openMs;
  }

  /** The attempt allowed at `startedAt` failed at `now`. */
  failure(now: number, startedAt?: number): void {
    this.settle(startedAt);
    const wasTrial = this.trial;
    this.failures++;
    this.trial = false;
    if (this.failures < this.o.threshold) return;
    if (wasTrial) this.openMs = Math.min(this.o.maxOpenMs, this.openMs * 2);
    this.openUntil = now + this.openMs;
  }

  /** Attempts whose outcome never came (the request that made them was cancelled) fail, so none jams the breaker. */
  private forgetLost(now: number): void {
    const lost = this.pending.filter((t) => now - t >= this.o.lostMs);
    for (const t of lost) this.failure(now, t);
    if (this.trial && now - this.trialAt >= this.o.lostMs) this.failure(now);
  }

  private slow(now: number): boolean {
    return this.pending.some((t) => now - t >= this.o.slowMs);
  }

  private settle(startedAt: number | undefined): void {
    const i = startedAt === undefined ? -1 : this.pending.indexOf(startedAt);
    if (i >= 0) this.pending.splice(i, 1);
  }
}
