import { describe, expect, it } from "vitest";
import { GroupCommit } from "./group-commit.ts";

/** A commit log and a durability step the test releases by hand. */
function harness(windowMs: number, cap = Number.POSITIVE_INFINITY) {
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
    windowMs,
    targetItems: 1_000,
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
    await h.flush(); // busy (3 arrivals a second × 1 s window), yet the leftover does not wait
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
      windowMs: 0,
      targetItems: 1_000,
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
      windowMs: 0,
      targetItems: 1_000,
    });
    await expect(g.submit([1])[0]).rejects.toThrow(/sync failed/);
  });

  it("waits out the window only when busy (arrivals closer together than half the window)", async () => {
    const windowMs = 20;
    const commits: number[][] = [];
    const g = new GroupCommit<number, number>({
      commit: (items) => {
        commits.push([...items]);
        return items;
      },
      durable: async () => {},
      windowMs,
      targetItems: 1_000,
    });
    // Light load: every sale is its own commit, none waits.
    for (let i = 0; i < 5; i++) await g.submit([i])[0];
    expect(commits.every((c) => c.length === 1)).toBe(true);
    // One sale a millisecond, each in its own task: busy. Sales that arrive within a window share a commit
    // (without the window each would commit alone, as the durable step here takes no time).
    commits.length = 0;
    const all: Promise<number>[] = [];
    for (let i = 0; i < 200; i++) {
      all.push(...g.submit([i]));
      await new Promise((ok) => setTimeout(ok, 1));
    }
    await Promise.all(all);
    expect(commits.length).toBeLessThan(40);
    expect(commits.flat()).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});

describe("group commit under closed-loop load", () => {
  it("commits as soon as arrivals pause, and once enough wait, before the window is out", async () => {
    const commits: number[][] = [];
    const g = new GroupCommit<number, number>({
      commit: (items) => {
        commits.push([...items]);
        return items;
      },
      durable: () => new Promise((ok) => setTimeout(ok, 1)),
      windowMs: 1_000,
      targetItems: 4,
    });
    // Eight clients, each sending its next sale as soon as the last one is answered.
    const started = Date.now();
    let answered = 0;
    const client = async (c: number) => {
      for (let i = 0; i < 20; i++) {
        await g.submit([c * 100 + i])[0];
        answered++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, c) => client(c)));
    // A full 1 s window per commit would take tens of seconds; pauses and the target end each wait early.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(answered).toBe(160);
    expect(Math.max(...commits.map((c) => c.length))).toBeGreaterThan(1);
  });
});
