/** Vectors computed by hand for the bit layout, and with Python's hashlib/hmac for the hashes (not this code). */
import { describe, expect, it } from "vitest";
import {
  boundaryProblems,
  commitmentOf,
  crockford,
  isEligible,
  prizeFor,
  seedOf,
  settleWinners,
  winningNumbers,
} from "./lottery.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const reveal = Uint8Array.from({ length: 32 }, (_, i) => i);
const shards = [
  { shard: 5, size: 1, root: new Uint8Array(32).fill(0xbb) },
  { shard: 0, size: 3, root: new Uint8Array(32).fill(0xaa) },
  { shard: 9, size: 0, root: new Uint8Array(32).fill(0xcc) }, // size 0: skipped
];

describe("lottery formulas", () => {
  it("commits to the reveal with SHA-256", () => {
    expect(hex(commitmentOf(reveal))).toBe("630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd");
  });

  it("derives the seed from the id, the reveal and the shards in ascending order, skipping empty ones", () => {
    expect(hex(seedOf("summer-2026", reveal, shards))).toBe(
      "7c4449adc1d4524684f528849bb063bef2094635456025a217d2e34e7cd787b5",
    );
    // Any change to a root (one receipt more or different before the close) changes the seed.
    const other = shards.map((s) => (s.shard === 5 ? { ...s, root: new Uint8Array(32).fill(0xbc) } : s));
    expect(hex(seedOf("summer-2026", reveal, other))).not.toBe(hex(seedOf("summer-2026", reveal, shards)));
  });

  it("reads Crockford base32 five bits at a time, most significant first", () => {
    // 00001 00010 00011 00100 00101 11111 11111 11111
    expect(crockford(Uint8Array.from([0b00001000, 0b10000110, 0b01000010, 0xff, 0xff]), 8)).toBe("12345ZZZ");
    expect(crockford(Uint8Array.from([0xff]), 1)).toBe("Z");
  });

  it("draws each prize's suffixes with HMAC-SHA256(seed, 'prize/j/k')", () => {
    const seed = seedOf("summer-2026", reveal, shards);
    const w = winningNumbers(seed, [
      { name: "Car", digits: 4, numbers: 2 },
      { name: "Coffee", digits: 8, numbers: 3 },
    ]);
    expect(w[0]).toEqual({ prize: 0, name: "Car", suffixes: ["J6AE", "8E2G"] });
    expect(w[1]?.suffixes[0]).toBe("D1XCXAXR");
    expect(
      winningNumbers(seed, [
        { name: "a", digits: 1, numbers: 1 },
        { name: "b", digits: 1, numbers: 3 },
      ])[1]?.suffixes[2],
    ).toBe("M");
  });

  it("gives a code the smallest prize whose suffix it ends with, in any case", () => {
    const w = [
      { prize: 0, name: "Car", suffixes: ["9XYZ"] },
      { prize: 1, name: "Coffee", suffixes: ["Z", "YZ"] },
    ];
    expect(prizeFor("abcd00000000000f9xyz", w)).toEqual({ prize: 0, name: "Car" });
    expect(prizeFor("ABCD00000000000F1XYZ", w)).toEqual({ prize: 1, name: "Coffee" });
    expect(prizeFor("ABCD00000000000F1XY0", w)).toBeNull();
  });

  it("takes receipts from opensAt up to but not including closesAt, with the draw's filters", () => {
    const d = { opensAt: 100, closesAt: 200, minTotal: 50, currency: "EUR", tenants: ["acme"] };
    const r = { receivedAt: 100, total: 50, currency: "EUR", tenantId: "acme" };
    expect(isEligible(r, d)).toBe(true);
    expect(isEligible({ ...r, receivedAt: 199 }, d)).toBe(true);
    expect(isEligible({ ...r, receivedAt: 200 }, d)).toBe(false);
    expect(isEligible({ ...r, receivedAt: 99 }, d)).toBe(false);
    expect(isEligible({ ...r, total: 49 }, d)).toBe(false);
    expect(isEligible({ ...r, currency: "CHF" }, d)).toBe(false);
    expect(isEligible({ ...r, tenantId: "other" }, d)).toBe(false);
    expect(isEligible({ ...r, currency: "CHF", tenantId: "other" }, { opensAt: 0, closesAt: 200, minTotal: 0 })).toBe(
      true,
    );
  });
});

describe("a shard's cut at the close (boundaryProblems)", () => {
  const close = Date.parse("2026-12-06T12:00:00Z");
  const leaf = (index: number, receivedAt: string) => ({ index, receivedAt, hash: "00".repeat(32), inclusion: [] });
  const tree = { size: 10, root: new Uint8Array(32) };
  const yes = () => true;
  const cut = {
    shard: 3,
    size: 7,
    checkpoint: "",
    last: leaf(6, "2026-12-06T11:59:59.999Z"),
    next: leaf(7, "2026-12-06T12:00:00.000Z"),
  };

  it("accepts the last leaf before the close and the first at or after it", () => {
    expect(boundaryProblems(cut, close, tree, yes)).toEqual([]);
    expect(
      boundaryProblems({ ...cut, size: 10, last: leaf(9, cut.last.receivedAt), next: null }, close, tree, yes),
    ).toEqual([]);
    expect(
      boundaryProblems({ ...cut, size: 0, last: null, next: leaf(0, "2026-12-06T12:00:01Z") }, close, tree, yes),
    ).toEqual([]);
  });

  it("refuses a cut too early or too late, a leaf out of place or not in the tree, and a hidden rest", () => {
    expect(boundaryProblems({ ...cut, next: leaf(7, "2026-12-06T11:59:59Z") }, close, tree, yes)).toEqual([
      "its next leaf was received at 2026-12-06T11:59:59Z, before the close",
    ]);
    expect(boundaryProblems({ ...cut, last: leaf(6, "2026-12-06T12:00:00Z") }, close, tree, yes)).toEqual([
      "its last leaf was received at 2026-12-06T12:00:00Z, not before the close",
    ]);
    expect(boundaryProblems({ ...cut, last: leaf(5, cut.last.receivedAt) }, close, tree, yes)).toEqual([
      "its last leaf is entry 6, not 7",
    ]);
    expect(boundaryProblems(cut, close, tree, (l) => l.index !== 7)).toEqual([
      "its next leaf is not in the witnessed tree of size 10",
    ]);
    expect(boundaryProblems({ ...cut, next: null }, close, tree, yes)).toEqual([
      "the witnessed tree has 3 leaf(s) past the cut, and none is shown",
    ]);
    expect(boundaryProblems({ ...cut, size: 11 }, close, tree, yes)[0]).toBe(
      "the witnessed tree (size 10) is smaller than the cut (11)",
    );
    expect(
      boundaryProblems({ ...cut, size: 0, last: null, next: leaf(0, "2026-12-06T11:00:00Z") }, close, tree, yes),
    ).toEqual(["its next leaf was received at 2026-12-06T11:00:00Z, before the close"]);
  });
});

describe("settleWinners (candidates from several databases)", () => {
  const c = (code: string, prize: number, total = 1000) => ({
    code,
    prize,
    tenantId: "t",
    storeId: "s",
    total,
    currency: "EUR",
    receivedAt: "2026-12-01T10:00:00.000Z",
  });
  it("nets refunds from every database, drops a voided sale, keeps each code once with its smallest prize, by code", () => {
    const out = settleWinners(
      [c("B", 2), c("A", 1), c("B", 1), c("C", 1), c("D", 1, 500)],
      [
        { code: "A", refunded: 300, voided: false },
        { code: "A", refunded: 300, voided: false },
        { code: "C", refunded: 0, voided: true },
      ],
      500,
    );
    expect(out.map((w) => [w.code, w.prize])).toEqual([
      ["B", 1],
      ["D", 1],
    ]);
    // A alone: 1000 − 600 = 400 < 500; with only one database's refund it would have won.
    expect(settleWinners([c("A", 1)], [{ code: "A", refunded: 300, voided: false }], 500)).toHaveLength(1);
  });
});
