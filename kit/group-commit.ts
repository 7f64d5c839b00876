/**
 * Group commit: what reaches the shard while a commit is in flight goes into
 * the next commit together (one transaction, one ring row). An idle shard
 * commits at once, inside the call that brought the work. A busy one (its
 * arrivals, smoothed, come closer together than half the window) gathers first:
 * until `windowMs` has passed since its last commit began, or `targetItems`
 * wait, or arrivals pause. So it commits at most every window while busy, its
 * batches grow with its load, and a lightly loaded shard never waits (a window
 * would rarely gather a second receipt).
 *
 * A caller's promise settles only after `durable` resolved for its commit:
 * nobody hears of a receipt that storage could still lose.
 */
export type GroupCommitOptions<T, R> = {
  /** Commits a prefix of `items` in one transaction (at least one); returns a result per item taken. */
  commit: (items: T[]) => R[];
  /** Resolves once what `commit` wrote is durable. */
  durable: () => Promise<void>;
  /** A busy shard commits at most this often (an item waits at most this long for company). */
  windowMs: number;
  /** A busy shard commits before its window is out once this many items wait. */
  targetItems: number;
  now?: () => number;
};

type Waiting<T, R> = { item: T; resolve: (r: R) => void; reject: (e: unknown) => void };

export class GroupCommit<T, R> {
  private queue: Waiting<T, R>[] = [];
  private running = false;
  /** The time between arrivals (calls to submit), smoothed; and the last arrival. */
  private gap = Number.POSITIVE_INFINITY;
  private lastAt = Number.NEGATIVE_INFINITY;
  private lastArrival = Number.NEGATIVE_INFINITY;
  /** Wakes a commit that waits for more arrivals. */
  private wake: (() => void) | null = null;

  private readonly o: GroupCommitOptions<T, R>;

  constructor(o: GroupCommitOptions<T, R>) {
    this.o = o;
  }

  /** Items waiting for a commit (not yet written). */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues the items for the next commit; each promise settles when its item is durable (or failed). */
  submit(items: T[]): Promise<R>[] {
    this.arrived();
    this.wake?.();
    const promises = items.map(
      (item) => new Promise<R>((resolve, reject) => this.queue.push({ item, resolve, reject })),
    );
    if (!this.running) void this.run();
    return promises;
  }

  private arrived(): void {
    const now = (this.o.now ?? Date.now)();
    const gap = now - this.lastArrival;
    this.lastArrival = now;
    this.gap = Number.isFinite(this.gap) ? 0.8 * this.gap + 0.2 * gap : gap;
  }

  /**
   * Whether waiting pays: a window would gather at least two more arrivals
   * (they come closer together than half the window). Below that, waiting
   * would add latency for little. Clients that wait for their reply before
   * sending again are served by the target and the pause (see gather).
   */
  private get busy(): boolean {
    return this.gap < this.o.windowMs / 2;
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

  /**
   * A busy shard gathers more before it commits: until the window since its
   * last commit is out, or `targetItems` wait, or arrivals fall silent (below).
   */
  private async gather(now: () => number): Promise<void> {
    const until = this.lastAt + this.o.windowMs;
    // How long a silence ends the gathering: three usual gaps, until two gaps were seen while
    // gathering, then three of those. Clients that each wait for their reply arrive in a burst
    // right after the last replies and then fall silent, so their gathering ends within
    // milliseconds; independent arrivals keep their usual spacing and fill the window.
    let pause = Math.min(this.o.windowMs, 3 * this.gap);
    let last = now();
    let gaps = 0;
    let seen = 0;
    while (this.queue.length < this.o.targetItems && now() < until) {
      if (!(await this.nextArrival(Math.max(1, Math.min(until - now(), pause))))) break;
      const t = now();
      gaps += t - last;
      seen++;
      last = t;
      if (seen >= 2) pause = Math.min(this.o.windowMs, 3 * (gaps / seen));
    }
  }

  private async run(): Promise<void> {
    this.running = true;
    const now = this.o.now ?? Date.now;
    try {
      while (this.queue.length) {
        if (this.busy) await this.gather(now); // not awaited when idle: the commit runs inside submit
        this.lastAt = now();
        const waiting = this.queue;
        let results: R[];
        try {
          results = this.o.commit(waiting.map((w) => w.item));
        } catch (e) {
          this.queue = [];
          for (const w of waiting) w.reject(e);
          continue;
        }
        const taken = waiting.splice(0, results.length);
        // Items the commit left (it was full) go next, without waiting out a window.
        if (this.queue.length) this.lastAt = Number.NEGATIVE_INFINITY;
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
