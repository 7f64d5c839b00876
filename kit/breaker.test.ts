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

  it("counts an attempt that never settles (its request was cancelled) as failed, so it cannot jam the breaker", () => {
    const b = new Breaker({ threshold: 1, openMs: 1_000, slowMs: 1_000, lostMs: 8_000 });
    expect(b.allow(0)).toBe(true); // never settles
    expect(b.allow(2_000)).toBe(false); // suspect while it may still come back
    expect(b.allow(8_000)).toBe(false); // now lost: a failure, the breaker opens for 1 s
    expect(b.state(8_500)).toBe("open");
    expect(b.allow(9_000)).toBe(true); // the probe
    expect(b.allow(9_001)).toBe(false);
    expect(b.allow(17_000)).toBe(false); // the probe was lost too: opens again, for 2 s
    expect(b.allow(19_000)).toBe(true);
    b.success(19_000);
    expect(b.state(19_000)).toBe("closed");
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
