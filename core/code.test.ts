import { describe, expect, it } from "vitest";
import { codeRoute, encodeCode, groupCode, MAX_COUNTER, MAX_SHARDS, parseCode, shardCodePrefix } from "./code.ts";

const KEY = "unit-test-code-key";

describe("receipt codes", () => {
  it("round-trips shard and counter through 16 Crockford characters", () => {
    for (const parts of [
      { shard: 0, counter: 1 },
      { shard: 7, counter: 123_456 },
      { shard: MAX_SHARDS - 1, counter: MAX_COUNTER },
    ]) {
      const code = encodeCode(KEY, parts);
      expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{16}$/);
      expect(parseCode(KEY, code)).toEqual({ ...parts, code });
    }
  });

  it("accepts the printed form in any case, with read-alikes", () => {
    const code = encodeCode(KEY, { shard: 3, counter: 42 });
    const printed = groupCode(code);
    expect(printed).toMatch(/^\w{4}-\w{4}-\w{4}-\w{4}$/);
    expect(parseCode(KEY, printed.toLowerCase())?.code).toBe(code);
    expect(parseCode(KEY, ` ${printed.replaceAll("-", " ")} `)?.code).toBe(code);
    const withReadAlikes = code.replaceAll("0", "O").replaceAll("1", "I");
    expect(parseCode(KEY, withReadAlikes)?.code).toBe(code);
  });

  it("rejects every single-character typo", () => {
    const code = encodeCode(KEY, { shard: 12, counter: 99_999 });
    const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    for (let i = 0; i < code.length; i++) {
      for (const ch of alphabet) {
        if (ch === code[i]) continue;
        const typo = code.slice(0, i) + ch + code.slice(i + 1);
        expect(parseCode(KEY, typo)).toBeNull();
      }
    }
  });

  it("rejects codes made with another key, wrong lengths and foreign characters", () => {
    const code = encodeCode(KEY, { shard: 1, counter: 1 });
    expect(parseCode("another-key", code)).toBeNull();
    expect(parseCode(KEY, code.slice(1))).toBeNull();
    expect(parseCode(KEY, `${code}0`)).toBeNull();
    expect(parseCode(KEY, "UUUU-UUUU-UUUU-UUUU")).toBeNull();
    expect(parseCode(KEY, "")).toBeNull();
  });

  it("gives distinct codes for distinct payloads", () => {
    const seen = new Set<string>();
    for (let shard = 0; shard < 4; shard++) {
      for (let counter = 1; counter <= 500; counter++) seen.add(encodeCode(KEY, { shard, counter }));
    }
    expect(seen.size).toBe(2000);
  });

  it("refuses payloads outside the code space", () => {
    expect(() => encodeCode(KEY, { shard: MAX_SHARDS, counter: 1 })).toThrow(RangeError);
    expect(() => encodeCode(KEY, { shard: 0, counter: 0 })).toThrow(RangeError);
    expect(() => encodeCode(KEY, { shard: 0, counter: MAX_COUNTER + 1 })).toThrow(RangeError);
  });

  it("routes a stored code to its shard and counter without the key, in code order", () => {
    const a = encodeCode("k", { shard: 517, counter: 42 });
    const b = encodeCode("k", { shard: 517, counter: 43 });
    const c = encodeCode("k", { shard: 518, counter: 1 });
    expect(codeRoute(a)).toEqual({ shard: 517, counter: 42 });
    expect(a < b && b < c).toBe(true);
    expect(a.startsWith(shardCodePrefix(517))).toBe(true);
    expect(c >= shardCodePrefix(518) && b < shardCodePrefix(518)).toBe(true);
    expect(codeRoute("not-a-code")).toBeNull();
  });
});
