import { describe, expect, it } from "vitest";
import { GroupCommit } from "./group-commit.ts";

/** A commit log and a durability step the test releases by hand. */
function harness(holdMs: number, cap = Number.POSITIVE_INFINITY) {
  const commits: number[][] = [];
  let release: (() => void)[] = [];
  let clock = 0;
  const g = new GroupCommit<number, string>({
    commit: (items) => {
      const taken = items.slice(0, cap);
      commits.push(taken);
      return taken.map((i) => `r${i}`);
    },
    durable: () => new Promise<void>((ok) => release.push(ok)),
    holdMs,
    now: () => clock,
  });
  const flush = async () => {
    const r = release;
    release = [];
    for (const ok of r) ok();
    await new Promise((ok) => setTimeout(ok, 0));
  };
  return { g, commits, flush, tick: (ms: number) => (clock += ms) };
}

describe("group commit", () => {
  it("commits an idle shard's first sale at once, inside the call", () => {
    const h = harness(25);
    void h.g.submit([1]);
    expect(h.commits).toEqual([[1]]);
  });

  it("answers only once the commit is durable", async () => {
    const h = harness(0);
    let answered = false;
    const [p] = h.g.submit([1]);
    p?.then(() => {
      answered = true;
    });
    await new Promise((ok) => setTimeout(ok, 5));
    expect(answered).toBe(false);
    await h.flush();
    expect(answered).toBe(true);
    expect(await p).toBe("r1");
  });

  it("puts what arrives during a commit into the next commit together", async () => {
    const h = harness(0);
    const first = h.g.submit([1]);
    const rest = [...h.g.submit([2, 3]), ...h.g.submit([4])];
    expect(h.commits).toEqual([[1]]);
    await h.flush();
    expect(h.commits).toEqual([[1], [2, 3, 4]]);
    await h.flush();
    expect(await Promise.all([...first, ...rest])).toEqual(["r1", "r2", "r3", "r4"]);
  });

  it("commits again at once what a full commit left behind", async () => {
    const h = harness(1_000, 2);
    h.g.submit([1, 2, 3]);
    expect(h.commits).toEqual([[1, 2]]);
    await h.flush(); // a hold is only for a lone item: the leftover does not wait
    expect(h.commits).toEqual([[1, 2], [3]]);
  });

  it("rejects every sale of a commit that failed, and goes on with the next", async () => {
    let fail = true;
    const g = new GroupCommit<number, number>({
      commit: (items) => {
        if (fail) {
          fail = false;
          throw new Error("commit failed");
        }
        return items;
      },
      durable: async () => {},
      holdMs: 0,
    });
    const [a] = g.submit([1]);
    await expect(a).rejects.toThrow(/commit failed/);
    const [b] = g.submit([2]);
    expect(await b).toBe(2);
  });

  it("rejects the sales of a commit whose durability failed", async () => {
    const g = new GroupCommit<number, number>({
      commit: (items) => items,
      durable: async () => {
        throw new Error("sync failed");
      },
      holdMs: 0,
    });
    await expect(g.submit([1])[0]).rejects.toThrow(/sync failed/);
  });

  it("never waits for a timer with holds off, and batch size grows with offered load", async () => {
    const commits: number[][] = [];
    const g = new GroupCommit<number, number>({
      commit: (items) => {
        commits.push([...items]);
        return items;
      },
      // Storage that takes 2 ms to make a commit durable.
      durable: () => new Promise((ok) => setTimeout(ok, 2)),
      holdMs: 0,
    });
    const meanBatch = async (perMs: number) => {
      commits.length = 0;
      const all: Promise<number>[] = [];
      for (let t = 0; t < 60; t++) {
        for (let i = 0; i < perMs; i++) all.push(...g.submit([t * 100 + i]));
        await new Promise((ok) => setTimeout(ok, 1));
      }
      await Promise.all(all);
      return all.length / commits.length;
    };
    const light = await meanBatch(1);
    const heavy = await meanBatch(8);
    expect(heavy).toBeGreaterThan(2 * light);
  });
});

describe("group commit under closed-loop load", () => {
  for (const holdMs of [0, 50]) {
    it(`clients that each wait for their reply never wait for a timer (hold ${holdMs} ms)`, async () => {
      const commits: number[][] = [];
      const g = new GroupCommit<number, number>({
        commit: (items) => {
          commits.push([...items]);
          return items;
        },
        durable: () => new Promise((ok) => setTimeout(ok, 1)),
        holdMs,
      });
      // One client at a time: each sale is alone when its commit starts; with a 50 ms hold,
      // a client that waited would take ≥ 50 ms per sale, 1,000 ms over 20.
      const started = Date.now();
      for (let i = 0; i < 20; i++) await g.submit([i])[0];
      const alone = Date.now() - started;
      expect(alone).toBeLessThan(holdMs ? 400 : 1_000);
      // Eight clients, each sending its next sale as soon as the last one is answered.
      commits.length = 0;
      let answered = 0;
      const client = async (c: number) => {
        for (let i = 0; i < 20; i++) {
          await g.submit([c * 100 + i])[0];
          answered++;
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, c) => client(c)));
      expect(answered).toBe(160);
      expect(Math.max(...commits.map((c) => c.length))).toBeGreaterThan(1);
      // Holds that gathered nothing stop: at most the first few, and probes, wait.
      expect(g.holds.wasted).toBeLessThanOrEqual(4);
    });
  }

  it("holds a lone receipt for one more while arrivals come within the hold, and counts it as paid", async () => {
    const h = harnessWithHold(20);
    // Arrivals every 5 ms (smoothed gap under twice the hold), two by two: holds gather company.
    for (let i = 0; i < 4; i++) {
      void h.g.submit([i]);
      h.tick(5);
      void h.g.submit([i + 100]);
      await h.flush();
      h.tick(5);
    }
    const before = h.commits.length;
    void h.g.submit([10]);
    expect(h.commits.length).toBe(before); // held, not committed inside the call
    void h.g.submit([11]);
    await new Promise((ok) => setTimeout(ok, 0));
    expect(h.commits.at(-1)).toEqual([10, 11]);
    expect(h.g.holds.paid).toBeGreaterThan(0);
  });
});

/** Like harness, with a hold and a clock the test moves. */
function harnessWithHold(holdMs: number) {
  const commits: number[][] = [];
  let clock = 0;
  const g = new GroupCommit<number, number>({
    commit: (items) => {
      commits.push([...items]);
      return items;
    },
    durable: async () => {},
    holdMs,
    now: () => clock,
  });
  const flush = () => new Promise((ok) => setTimeout(ok, 25));
  return { g, commits, flush, tick: (ms: number) => (clock += ms) };
}
