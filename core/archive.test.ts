import { describe, expect, it } from "vitest";
import {
  type ArchivedReceipt,
  counterGaps,
  decodeRows,
  encodeObject,
  findInObject,
  manifestOf,
  manifestSchema,
  objectKey,
  ROW_GROUP_ROWS,
} from "./archive.ts";
import { canonicalHash } from "./canonical.ts";
import type { ChainRecord } from "./receipt.ts";

function receipt(counter: number, extra: Partial<ChainRecord> = {}): ArchivedReceipt {
  const record: ChainRecord = {
    v: 1,
    code: `CODE${String(counter).padStart(12, "0")}`,
    tenantId: "acme",
    storeId: "berlin-1",
    terminalId: "till-1",
    seq: counter,
    issuedAt: "2026-11-21T09:15:00.000Z",
    receivedAt: new Date(Date.UTC(2026, 10, 21, 9, 15) + counter).toISOString(),
    currency: "EUR",
    total: 680 + counter,
    items: [{ name: "Brötchen 🥐", quantity: 1.5, unitPrice: 120, total: 180, taxRate: 0.07 }],
    payments: [{ method: "cash", amount: 680 + counter }],
    prevHash: "a".repeat(64),
    ...extra,
  } as ChainRecord;
  return { counter, record, hash: canonicalHash(record) };
}

const bytesOf = (buf: ArrayBuffer) => ({
  byteLength: buf.byteLength,
  slice: (s: number, e?: number) => buf.slice(s, e),
});

describe("archive objects", () => {
  it("give every record back exactly as it was hashed, optional fields included", async () => {
    const rows = [
      receipt(1),
      receipt(2, { cashier: "Ana", kind: "refund", refersTo: "CODE000000000001", reason: "damaged" }),
      receipt(3, { kind: "void", refersTo: "CODE000000000002", late: true }),
    ];
    const back = await decodeRows(bytesOf(encodeObject(rows)));
    expect(back).toEqual(rows);
    for (const r of back) expect(canonicalHash(r.record)).toBe(r.hash);
  });

  it("find one counter by reading one row group", async () => {
    const rows = Array.from({ length: ROW_GROUP_ROWS * 8 + 7 }, (_, i) => receipt(100 + i));
    const buf = encodeObject(rows);
    const ranges: [number, number][] = [];
    const file = {
      byteLength: buf.byteLength,
      slice: (s: number, e = buf.byteLength) => {
        ranges.push([s, e]);
        return buf.slice(s, e);
      },
    };
    const wanted = 100 + ROW_GROUP_ROWS + 3;
    expect(await findInObject(file, wanted)).toEqual(rows[ROW_GROUP_ROWS + 3]);
    expect(await findInObject(bytesOf(buf), 99)).toBeNull();
    // Read: the footer, then the columns of one group, never the whole object.
    const read = ranges.reduce((n, [s, e]) => n + (e - s), 0);
    expect(read).toBeLessThan(buf.byteLength / 2);
  });

  it("are named by day, shard and part, and listed in a manifest in that order", () => {
    expect(objectKey("2026-12-01", 42, 3)).toBe("archive/v1/day=2026-12-01/shard=00042/part=003.parquet");
    // A receipts database's object never takes a key another database's could have.
    expect(objectKey("2026-12-01", 42, 3, "r1")).toBe("archive/v1/day=2026-12-01/shard=00042/part=003.r1.parquet");
    const o = { rows: 2, firstCounter: 1, lastCounter: 2, sha256: "0".repeat(64), bytes: 10 };
    const m = manifestOf("2026-12-01", [
      { key: "b", shard: 9, part: 0, ...o },
      { key: "a", shard: 2, part: 1, ...o },
      { key: "c", shard: 2, part: 0, ...o },
    ]);
    expect(m.objects.map((x) => x.key)).toEqual(["c", "a", "b"]);
    expect(m.rows).toBe(6);
    expect(manifestSchema.parse(JSON.parse(JSON.stringify(m)))).toEqual(m);
  });
});

describe("a day's counters", () => {
  const o = (shard: number, firstCounter: number, lastCounter: number, rows: number) => ({
    shard,
    firstCounter,
    lastCounter,
    rows,
  });

  it("find no gap when each shard's parts hold every counter from its first to its last", () => {
    expect(counterGaps([o(3, 1, 10, 10), o(3, 11, 15, 5), o(7, 100, 100, 1)])).toEqual([]);
  });

  it("name each shard whose counters miss some, across its parts", () => {
    expect(counterGaps([o(7, 100, 104, 4), o(3, 1, 10, 10), o(3, 12, 15, 4)])).toEqual([
      { shard: 3, first: 1, last: 15, missing: 1 },
      { shard: 7, first: 100, last: 104, missing: 1 },
    ]);
  });
});
