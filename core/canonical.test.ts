import { describe, expect, it } from "vitest";
import { safeEqual, sha256Hex } from "../kit/crypto.ts";
import { canonicalHash, canonicalJson } from "./canonical.ts";

describe("RFC 8785 canonical JSON", () => {
  it("sorts keys by UTF-16 code units and drops whitespace", () => {
    expect(canonicalJson({ b: 1, a: [3, { d: true, c: null }], "€": "x", Z: "y" })).toBe(
      '{"Z":"y","a":[3,{"c":null,"d":true}],"b":1,"€":"x"}',
    );
  });

  it("serializes numbers the ECMAScript way", () => {
    // biome-ignore lint/correctness/noPrecisionLoss: the RFC 8785 example is about exactly this
    expect(canonicalJson([1.0, 0.5, 1e21, -0, 333333333.33333329])).toBe("[1,0.5,1e+21,0,333333333.3333333]");
  });

  it("escapes strings minimally", () => {
    expect(canonicalJson({ s: '\u0007"\\/\n€' })).toBe('{"s":"\\u0007\\"\\\\/\\n€"}');
  });

  it("hashes equal values equally regardless of key order", () => {
    expect(canonicalHash({ a: 1, b: [1, 2] })).toBe(canonicalHash({ b: [1, 2], a: 1 }));
    expect(canonicalHash({ a: 1 })).not.toBe(canonicalHash({ a: 2 }));
  });

  it("uses SHA-256 (known vector)", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("compares secrets in constant time and correctly", () => {
    expect(safeEqual("secret", "secret")).toBe(true);
    expect(safeEqual("secret", "secreT")).toBe(false);
    expect(safeEqual("secret", "secret-longer")).toBe(false);
  });
});
