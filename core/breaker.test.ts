import { describe, expect, it } from "vitest";
import { Breaker } from "./breaker.ts";

describe("circuit breaker", () => {
  it("opens after a run of failures, fails fast while open, and lets one trial through after", () => {
    const b = new Breaker({ threshold: 3, openMs: 10_000 });
    for (let i = 0; i < 2; i++) b.failure(0);
    expect(b.state(0)).toBe("closed");
    b.failure(0);
    expect(b.state(1)).toBe("open");
    expect(b.allow(1)).toBe(false);
    expect(b.retryInMs(1)).toBe(9_999);
    // Half-open: one trial at a time.
    expect(b.allow(10_000)).toBe(true);
    expect(b.allow(10_000)).toBe(false);
    b.failure(10_000);
    expect(b.state(10_001)).toBe("open");
    expect(b.allow(20_000)).toBe(true);
    b.success();
    expect(b.state(20_000)).toBe("closed");
    expect(b.allow(20_000)).toBe(true);
  });

  it("forgets failures after a success", () => {
    const b = new Breaker({ threshold: 3, openMs: 1_000 });
    b.failure(0);
    b.failure(0);
    b.success();
    b.failure(0);
    expect(b.state(0)).toBe("closed");
  });
});

describe("circuit breaker over a long or silent outage", () => {
  it("probes ever more rarely while the trial keeps failing, and starts over after a success", () => {
    const b = new Breaker({ threshold: 1, openMs: 1_000, maxOpenMs: 4_000 });
    expect(b.allow(0)).toBe(true);
    b.failure(0, 0);
    expect(b.retryInMs(0)).toBe(1_000);
    const windows: number[] = [];
    let now = 1_000;
    for (let i = 0; i < 4; i++) {
      expect(b.allow(now)).toBe(true); // the one trial
      expect(b.allow(now)).toBe(false);
      b.failure(now, now);
      windows.push(b.retryInMs(now));
      now += b.retryInMs(now);
    }
    expect(windows).toEqual([2_000, 4_000, 4_000, 4_000]);
    expect(b.allow(now)).toBe(true);
    b.success(now);
    b.failure(now, undefined);
    expect(b.retryInMs(now)).toBe(1_000);
  });

  it("lets no other attempt start while one has hung for slowMs, and opens when it fails", () => {
    const b = new Breaker({ threshold: 3, openMs: 10_000, slowMs: 1_000 });
    expect(b.allow(0)).toBe(true); // hangs: a black-holed server
    expect(b.allow(500)).toBe(true); // not yet suspect
    expect(b.allow(1_000)).toBe(false);
    expect(b.retryInMs(1_000)).toBe(1_000);
    b.failure(5_000, 0);
    b.failure(5_000, 500);
    expect(b.allow(5_000)).toBe(true);
    b.failure(5_001, 5_000);
    expect(b.state(5_001)).toBe("open");
    // A slow attempt that succeeds clears the suspicion.
    const c = new Breaker({ threshold: 3, openMs: 10_000, slowMs: 1_000 });
    c.allow(0);
    expect(c.allow(2_000)).toBe(false);
    c.success(0);
    expect(c.allow(2_000)).toBe(true);
  });
});
