import { describe, expect, it } from "vitest";
import { groupForSend, MAX_MESSAGE_BYTES, MAX_SEND_BATCH_BYTES, type OutboxReceipt, packMessages } from "./outbox.ts";

const row = (counter: number, recordBytes: number): OutboxReceipt => ({
  counter,
  hash: "a".repeat(64),
  record: "x".repeat(recordBytes),
});

describe("outbox packing", () => {
  it("keeps every message under the byte bound and every receipt in order", () => {
    const rows = Array.from({ length: 1000 }, (_, i) => row(i + 1, 200 + ((i * 37) % 3000)));
    const packed = packMessages(3, rows);
    const messages = packed.map((p) => p.body);
    for (const { body, bytes } of packed)
      expect(bytes).toBeGreaterThanOrEqual(new TextEncoder().encode(JSON.stringify(body)).length);
    for (const m of messages) {
      expect(JSON.stringify(m).length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(m.shard).toBe(3);
    }
    expect(messages.flatMap((m) => m.receipts.map((r) => r.counter))).toEqual(rows.map((r) => r.counter));
    expect(messages.length).toBeGreaterThan(10);
  });

  it("sends a record too large for any message as a reference", () => {
    const messages = packMessages(1, [row(1, 500), row(2, MAX_MESSAGE_BYTES), row(3, 500)]).map((p) => p.body);
    const entries = messages.flatMap((m) => m.receipts);
    expect(entries.map((e) => e.counter)).toEqual([1, 2, 3]);
    expect(entries[1]).toEqual({ counter: 2, hash: "a".repeat(64) });
    for (const m of messages) expect(JSON.stringify(m).length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });

  it("measures bytes, not characters: non-Latin text takes more room", () => {
    const cjk = (counter: number): OutboxReceipt => ({ counter, hash: "a".repeat(64), record: "商品".repeat(4000) });
    const packed = packMessages(
      0,
      Array.from({ length: 40 }, (_, i) => cjk(i + 1)),
    );
    for (const { body } of packed)
      expect(new TextEncoder().encode(JSON.stringify(body)).length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    for (const g of groupForSend(packed)) {
      expect(new TextEncoder().encode(JSON.stringify(g)).length).toBeLessThanOrEqual(MAX_SEND_BATCH_BYTES);
    }
    const quoted: OutboxReceipt = { counter: 1, hash: "a".repeat(64), record: '"'.repeat(60_000) };
    expect(packMessages(0, [quoted])[0]?.body.receipts[0]).toEqual({ counter: 1, hash: "a".repeat(64) });
  });

  it("puts small receipts many to a message", () => {
    expect(
      packMessages(
        0,
        Array.from({ length: 50 }, (_, i) => row(i + 1, 800)),
      ),
    ).toHaveLength(1);
  });

  it("groups messages into sendBatch calls within 100 messages and 256 KB", () => {
    const rows = Array.from({ length: 3000 }, (_, i) => row(i + 1, 900));
    const groups = groupForSend(packMessages(0, rows));
    for (const g of groups) {
      expect(g.length).toBeLessThanOrEqual(100);
      expect(JSON.stringify(g).length).toBeLessThanOrEqual(MAX_SEND_BATCH_BYTES + 1000);
    }
    expect(groups.flat().flatMap((m) => m.receipts)).toHaveLength(3000);
  });
});
