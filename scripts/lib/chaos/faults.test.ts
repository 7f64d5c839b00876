import { describe, expect, it } from "vitest";
import { activeFault, faultRequestSchema } from "./faults.ts";

describe("fault plans", () => {
  it("hold until their time is up, then nothing is active", () => {
    const plan = { fault: "send_then_throw" as const, until: 1_000 };
    expect(activeFault(plan, 999)).toBe("send_then_throw");
    expect(activeFault(plan, 1_000)).toBeNull();
    expect(activeFault(null, 0)).toBeNull();
  });

  it("accept only known faults for at most ten minutes", () => {
    expect(faultRequestSchema.safeParse({ fault: "evict_mid_flush", seconds: 5 }).success).toBe(true);
    expect(faultRequestSchema.safeParse({ fault: "drop_table", seconds: 5 }).success).toBe(false);
    expect(faultRequestSchema.safeParse({ fault: "evict_mid_flush", seconds: 601 }).success).toBe(false);
    expect(faultRequestSchema.safeParse({ fault: "evict_mid_flush", seconds: 5, extra: 1 }).success).toBe(false);
  });
});
