import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../../kit/crypto.ts";
import { inCounterOrder, logApi, objectUnlike } from "./sources.ts";

describe("objectUnlike", () => {
  const written = new TextEncoder().encode("PAR1 a part PAR1");
  const recorded = { bytes: written.byteLength, sha256: sha256Hex(written) };

  it("finds nothing in the bytes that were written", () => {
    expect(objectUnlike(recorded, written)).toBeNull();
  });

  it("names an object cut short or grown by its size, before hashing it", () => {
    expect(objectUnlike(recorded, written.subarray(0, 4))).toBe(
      `it is 4 bytes, not the ${written.byteLength} recorded`,
    );
    const grown = new Uint8Array([...written, 0]);
    expect(objectUnlike(recorded, grown)).toBe(
      `it is ${grown.byteLength} bytes, not the ${written.byteLength} recorded`,
    );
  });

  it("names an object of the same size with other bytes by its SHA-256", () => {
    const edited = written.slice();
    edited[6] = 0x41;
    expect(objectUnlike(recorded, edited)).toBe("its SHA-256 differs from the one recorded");
  });
});

describe("logApi", () => {
  it("sends the operator token over https, or to this machine only", () => {
    expect(() => logApi("http://tillproof.example.com", "op-token")).toThrow(/plain http/);
    expect(() => logApi("https://tillproof.example.com", "op-token")).not.toThrow();
    expect(() => logApi("http://127.0.0.1:8787", "op-token")).not.toThrow();
    expect(() => logApi("http://tillproof.example.com")).not.toThrow();
  });
});

describe("inCounterOrder", () => {
  const o = (db: string, day: string, part: number, firstCounter: number) => ({
    day,
    part,
    key: `${db}/${day}/${part}`,
    rows: 10,
    bytes: 100,
    sha256: "0".repeat(64),
    firstCounter,
  });

  it("orders one shard's objects from several databases by counter, parts restarting in each", () => {
    // A layout switched mid-day: r0 holds the day's first receipts of the shard, r1 the rest.
    const r0 = [o("r0", "2026-12-01", 0, 1), o("r0", "2026-12-01", 1, 11)];
    const r1 = [o("r1", "2026-12-01", 0, 21), o("r1", "2026-12-02", 0, 31)];
    expect(inCounterOrder([r1, r0]).map((x) => x.key)).toEqual([
      "r0/2026-12-01/0",
      "r0/2026-12-01/1",
      "r1/2026-12-01/0",
      "r1/2026-12-02/0",
    ]);
  });
});
