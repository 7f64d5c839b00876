import { describe, expect, it } from "vitest";
import {
  BROWSER_CODE_ROUTE,
  type CodeFormat,
  codeRoute,
  encodeCode,
  groupCode,
  MAX_COUNTER,
  MAX_SHARDS,
  parseCode,
  shardCodeRange,
  V1_MAX_COUNTER,
  V1_MAX_SHARDS,
} from "./code.ts";

const KEY = "unit-test-code-key";
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

describe("receipt codes", () => {
  it("issues 20 characters by default and round-trips shard and counter in both layouts", () => {
    for (const [format, parts] of [
      [2, { shard: 0, counter: 1 }],
      [2, { shard: 7, counter: 123_456 }],
      [2, { shard: MAX_SHARDS - 1, counter: MAX_COUNTER }],
      [1, { shard: 0, counter: 1 }],
      [1, { shard: V1_MAX_SHARDS - 1, counter: V1_MAX_COUNTER }],
    ] as [CodeFormat, { shard: number; counter: number }][]) {
      const code = encodeCode(KEY, parts, format);
      expect(code).toMatch(format === 2 ? /^[0-9A-HJKMNP-TV-Z]{20}$/ : /^[0-9A-HJKMNP-TV-Z]{16}$/);
      expect(parseCode(KEY, code)).toEqual({ ...parts, code, format });
    }
    expect(encodeCode(KEY, { shard: 1, counter: 1 })).toHaveLength(20);
  });

  it("still verifies 16-character codes printed before v1.1 (vectors from the v1 implementation)", () => {
    expect(parseCode(KEY, "0000-0001-GV9E-3S9V")).toEqual({
      shard: 0,
      counter: 1,
      code: "00000001GV9E3S9V",
      format: 1,
    });
    expect(parseCode(KEY, "g500001ay26shzwm")).toMatchObject({ shard: 517, counter: 42, format: 1 });
    expect(parseCode(KEY, "ZZZZ-ZZZZ-99RJ-7C9Q")).toMatchObject({ shard: 1023, counter: V1_MAX_COUNTER, format: 1 });
    expect(encodeCode(KEY, { shard: 517, counter: 42 }, 1)).toBe("G500001AY26SHZWM");
  });

  it("gives a receipt one code only: its v1 and v2 spellings differ", () => {
    const v1 = encodeCode(KEY, { shard: 3, counter: 9 }, 1);
    const v2 = encodeCode(KEY, { shard: 3, counter: 9 }, 2);
    expect(v1).not.toBe(v2.slice(0, 16));
    expect(parseCode(KEY, v1)?.format).toBe(1);
    expect(parseCode(KEY, v2)?.format).toBe(2);
  });

  it("accepts the printed form in any case, with read-alikes, grouped by four", () => {
    const code = encodeCode(KEY, { shard: 3, counter: 42 });
    const printed = groupCode(code);
    expect(printed).toMatch(/^\w{4}(-\w{4}){4}$/);
    expect(parseCode(KEY, printed.toLowerCase())?.code).toBe(code);
    expect(parseCode(KEY, ` ${printed.replaceAll("-", " ")} `)?.code).toBe(code);
    const withReadAlikes = code.replaceAll("0", "O").replaceAll("1", "I");
    expect(parseCode(KEY, withReadAlikes)?.code).toBe(code);
  });

  it("rejects every single-character typo in every position, in both layouts", () => {
    for (const format of [1, 2] as CodeFormat[]) {
      const code = encodeCode(KEY, { shard: 12, counter: 99_999 }, format);
      for (let i = 0; i < code.length; i++) {
        for (const ch of ALPHABET) {
          if (ch === code[i]) continue;
          expect(parseCode(KEY, code.slice(0, i) + ch + code.slice(i + 1))).toBeNull();
        }
      }
      // Two neighbours swapped (the commonest slip after a wrong character).
      for (let i = 0; i + 1 < code.length; i++) {
        if (code[i] === code[i + 1]) continue;
        const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
        expect(parseCode(KEY, swapped)).toBeNull();
      }
    }
  });

  it("lets random well-formed codes through at about 2^-40 (none in 20,000 of each length)", () => {
    let passed = 0;
    for (let n = 0; n < 20_000; n++) {
      for (const length of [16, 20]) {
        const random = Array.from({ length }, () => ALPHABET[Math.floor(Math.random() * 32)]).join("");
        if (parseCode(KEY, random)) passed++;
      }
    }
    expect(passed).toBe(0);
  });

  it("rejects codes made with another key, wrong lengths and foreign characters", () => {
    const code = encodeCode(KEY, { shard: 1, counter: 1 });
    expect(parseCode("another-key", code)).toBeNull();
    expect(parseCode(KEY, code.slice(1))).toBeNull();
    expect(parseCode(KEY, `${code}0`)).toBeNull();
    expect(parseCode(KEY, code.slice(0, 18))).toBeNull();
    expect(parseCode(KEY, "UUUU-UUUU-UUUU-UUUU-UUUU")).toBeNull();
    expect(parseCode(KEY, "")).toBeNull();
  });

  it("gives distinct codes for distinct payloads", () => {
    const seen = new Set<string>();
    for (let shard = 0; shard < 4; shard++) {
      for (let counter = 1; counter <= 500; counter++) seen.add(encodeCode(KEY, { shard, counter }));
    }
    expect(seen.size).toBe(2000);
  });

  it("refuses payloads outside each layout's space", () => {
    expect(() => encodeCode(KEY, { shard: MAX_SHARDS, counter: 1 })).toThrow(RangeError);
    expect(() => encodeCode(KEY, { shard: 0, counter: 0 })).toThrow(RangeError);
    expect(() => encodeCode(KEY, { shard: 0, counter: MAX_COUNTER + 1 })).toThrow(RangeError);
    expect(() => encodeCode(KEY, { shard: V1_MAX_SHARDS, counter: 1 }, 1)).toThrow(RangeError);
    expect(() => encodeCode(KEY, { shard: 0, counter: V1_MAX_COUNTER + 1 }, 1)).toThrow(RangeError);
  });

  it("lasts 50 years at 70,000 receipts/s even if one shard took them all", () => {
    expect(MAX_COUNTER / (70_000 * 86_400 * 365.25)).toBeGreaterThan(50);
  });

  it("routes a stored code to its shard and counter without the key, in code order per layout", () => {
    for (const format of [1, 2] as CodeFormat[]) {
      const a = encodeCode("k", { shard: 517, counter: 42 }, format);
      const b = encodeCode("k", { shard: 517, counter: 43 }, format);
      const c = encodeCode("k", { shard: 518, counter: 1 }, format);
      expect(codeRoute(a)).toEqual({ shard: 517, counter: 42, format });
      expect(a < b && b < c).toBe(true);
      const range = shardCodeRange(517, format);
      expect(a >= range.lo && b < range.hi && c >= range.hi).toBe(true);
    }
    expect(codeRoute("not-a-code")).toBeNull();
  });
});

describe("the browser scripts' route", () => {
  const route = new Function(`${BROWSER_CODE_ROUTE}; return route;`)() as (code: string) => {
    shard: number;
    counter: number;
  };

  it("reads the shard and counter of both layouts as codeRoute does, at their edges too", () => {
    const cases: [number, number, CodeFormat][] = [
      [0, 1, 1],
      [V1_MAX_SHARDS - 1, V1_MAX_COUNTER, 1],
      [5, 123_456, 2],
      [MAX_SHARDS - 1, MAX_COUNTER, 2],
    ];
    for (const [shard, counter, format] of cases) {
      const code = encodeCode(KEY, { shard, counter }, format);
      expect(route(code)).toEqual({ shard, counter });
      expect(codeRoute(code)).toMatchObject({ shard, counter, format });
    }
  });
});
