/**
 * Group commit without timers: a commit starts as soon as the previous one is
 * durable and takes everything queued meanwhile (one transaction, one ring
 * row). An idle shard, or one whose clients each wait for their reply, commits
 * at once, inside the call that brought the work; batches grow with the load
 * and with the storage's own latency, never with a clock.
 *
 * One bounded exception, off unless `holdMs` > 0: a commit that would take a
 * single item may hold for one more arrival, at most `holdMs`, and only while
 * that pays (see HoldPolicy). A caller's promise settles only after `durable`
 * resolved for its commit: nobody hears of a receipt storage could still lose.
 */
export type GroupCommitOptions<T, R> = {
  /** Commits a prefix of `items` in one transaction (at least one); returns a result per item taken. */
  commit: (items: T[]) => R[];
  /** Resolves once what `commit` wrote is durable. */
  durable: () => Promise<void>;
  /** The longest a lone item may wait for company (0: never). */
  holdMs: number;
  now?: () => number;
};

type Waiting<T, R> = { item: T; resolve: (r: R) => void; reject: (e: unknown) => void };

/** Holds by outcome, for the shard's stats and the bench (commit sizes are the ring's). */
export type HoldStats = { paid: number; wasted: number };

/**
 * When holding a lone item pays. It pays when another arrival is likely
 * within the cap (the smoothed gap between arrivals is under twice the cap)
 * and recent holds did gather one. Clients that wait for their own reply never
 * arrive during a hold, so their holds fail and stop; a probe every
 * `PROBE_EVERY` commits finds out when holding pays again (so at most that
 * share of receipts ever waits for nothing).
 */
export class HoldPolicy {
  private gap = Number.POSITIVE_INFINITY;
  private lastArrival = Number.NEGATIVE_INFINITY;
  /** The share of recent holds that gathered an arrival (smoothed); starts hopeful. */
  private payoff = 1;
  private sinceProbe = 0;
  static readonly PROBE_EVERY = 256;

  private readonly holdMs: number;

  constructor(holdMs: number) {
    this.holdMs = holdMs;
  }

  arrived(now: number): void {
    const gap = now - this.lastArrival;
    this.lastArrival = now;
    this.gap = Number.isFinite(this.gap) ? 0.8 * this.gap + 0.2 * gap : gap;
  }

  /** How long a commit of `queued` items should hold for one more (0: commit now). */
  holdFor(queued: number): number {
    if (this.holdMs <= 0 || queued !== 1 || this.gap >= 2 * this.holdMs) return 0;
    if (this.payoff >= 0.5) return this.holdMs;
    if (++this.sinceProbe < HoldPolicy.PROBE_EVERY) return 0;
    this.sinceProbe = 0;
    return this.holdMs;
  }

  held(paid: boolean): void {
    this.payoff = 0.75 * this.payoff + 0.25 * (paid ? 1 : 0);
  }
}

export class GroupCommit<T, R> {
  private queue: Waiting<T, R>[] = [];
  private running = false;
  /** Wakes a commit that holds for one more arrival. */
  private wake: (() => void) | null = null;
  private readonly policy: HoldPolicy;
  private readonly now: () => number;
  readonly holds: HoldStats = { paid: 0, wasted: 0 };

  private readonly o: GroupCommitOptions<T, R>;

  constructor(o: GroupCommitOptions<T, R>) {
    this.o = o;
    this.policy = new HoldPolicy(o.holdMs);
    this.now = o.now ?? Date.now;
  }

  /** Items waiting for a commit (not yet written). */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues the items for the next commit; each promise settles when its item is durable (or failed). */
  submit(items: T[]): Promise<R>[] {
    this.policy.arrived(this.now());
    const promises = items.map(
      (item) => new Promise<R>((resolve, reject) => this.queue.push({ item, resolve, reject })),
    );
    this.wake?.();
    if (!this.running) void this.run();
    return promises;
  }

  /** Resolves true at the next arrival, false if none came within `ms`. */
  private nextArrival(ms: number): Promise<boolean> {
    return new Promise((ok) => {
      const timer = setTimeout(() => {
        this.wake = null;
        ok(false);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        ok(true);
      };
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length) {
        const hold = this.policy.holdFor(this.queue.length);
        if (hold > 0) {
          const paid = await this.nextArrival(hold);
          this.policy.held(paid);
          this.holds[paid ? "paid" : "wasted"]++;
        }
        const waiting = this.queue;
        let results: R[];
        try {
          results = this.o.commit(waiting.map((w) => w.item));
        } catch (e) {
          // Only this commit's items fail; what arrives next gets a commit of its own.
          this.queue = [];
          for (const w of waiting) w.reject(e);
          continue;
        }
        const taken = waiting.splice(0, results.length);
        try {
          await this.o.durable();
          for (const [i, w] of taken.entries()) w.resolve(results[i] as R);
        } catch (e) {
          for (const w of taken) w.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
