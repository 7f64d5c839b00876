/**
 * A circuit breaker: after `threshold` failures in a row it opens for
 * `openMs`, and calls fail at once; then one trial call is let through
 * (half-open): its success closes the breaker, its failure opens it again.
 * Pure: the caller passes the time.
 */
export type BreakerState = "closed" | "open" | "half-open";

export class Breaker {
  private failures = 0;
  private openUntil = 0;
  private trial = false;
  private readonly threshold: number;
  private readonly openMs: number;

  constructor(o: { threshold: number; openMs: number }) {
    this.threshold = o.threshold;
    this.openMs = o.openMs;
  }

  state(now: number): BreakerState {
    if (this.failures < this.threshold) return "closed";
    return now < this.openUntil ? "open" : "half-open";
  }

  /** Whether a call may go ahead now; in half-open, only one at a time. */
  allow(now: number): boolean {
    const s = this.state(now);
    if (s === "closed") return true;
    if (s === "open" || this.trial) return false;
    this.trial = true;
    return true;
  }

  /** Milliseconds until a call may be tried again (0 when it may now). */
  retryInMs(now: number): number {
    return this.state(now) === "open" ? this.openUntil - now : 0;
  }

  success(): void {
    this.failures = 0;
    this.trial = false;
  }

  failure(now: number): void {
    this.failures++;
    this.trial = false;
    if (this.failures >= this.threshold) this.openUntil = now + this.openMs;
  }
}
