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
