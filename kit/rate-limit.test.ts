import { describe, expect, it } from "vitest";
import { type Bucket, clientKey, takeTokens } from "./rate-limit.ts";

const opts = { rate: 10, burst: 20 };

describe("token bucket", () => {
  it("allows a full burst, then refuses with a Retry-After", () => {
    let bucket: Bucket | undefined;
    for (let i = 0; i < 20; i++) {
      const r = takeTokens(bucket, 0, opts);
      expect(r.ok).toBe(true);
      bucket = r.bucket;
    }
    const refused = takeTokens(bucket, 0, opts);
    expect(refused.ok).toBe(false);
    expect(refused.retryAfterSeconds).toBe(1);
  });

  it("refills at the rate, never above the burst", () => {
    const empty: Bucket = { tokens: 0, at: 0 };
    expect(takeTokens(empty, 100, opts).ok).toBe(true); // 0.1 s × 10/s = 1 token
    expect(takeTokens(empty, 50, opts).ok).toBe(false);
    expect(takeTokens(empty, 60_000, opts).bucket.tokens).toBe(19);
  });

  it("charges a batch by its size", () => {
    const r = takeTokens(undefined, 0, { ...opts, cost: 25 });
    expect(r.ok).toBe(false);
    expect(r.retryAfterSeconds).toBe(1);
    expect(takeTokens(undefined, 0, { ...opts, cost: 15 }).bucket.tokens).toBe(5);
  });
});

describe("clientKey", () => {
  it("counts an IPv4 address alone and an IPv6 address by its /64", () => {
    expect(clientKey("203.0.113.7")).toBe("203.0.113.7");
    expect(clientKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:0db8:0001:0002:bbbb:cccc:dddd:eeee")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(clientKey(undefined)).toBe("unknown");
  });
});
