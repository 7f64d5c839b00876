import { describe, expect, it } from "vitest";
import type { OutboxMessage } from "../../../core/outbox.ts";
import type { FaultName } from "./faults.ts";
import { faultyQueue } from "./faulty-queue.ts";

const message: MessageSendRequest<OutboxMessage> = { body: { v: 1, shard: 0, receipts: [] } };

function harness(fault: FaultName | null) {
  const delivered: unknown[] = [];
  const evicted: string[] = [];
  const queue = faultyQueue(
    { sendBatch: async (batch) => void delivered.push(...batch) },
    () => fault,
    (reason) => void evicted.push(reason),
  );
  return { queue, delivered, evicted };
}

describe("the shard's queue under chaos faults", () => {
  it("delivers, then reports a failure (the reply is lost)", async () => {
    const h = harness("send_then_throw");
    await expect(h.queue.sendBatch([message])).rejects.toThrow(/reply lost/);
    expect(h.delivered).toHaveLength(1);
  });

  it("delivers, then resets the object before it records the send", async () => {
    const h = harness("evict_mid_flush");
    await h.queue.sendBatch([message]);
    expect(h.delivered).toHaveLength(1);
    expect(h.evicted).toEqual(["chaos: evicted mid-flush"]);
  });

  it("is the plain queue when nothing is armed", async () => {
    const h = harness(null);
    await h.queue.sendBatch([message]);
    expect(h.delivered).toHaveLength(1);
    expect(h.evicted).toEqual([]);
  });
});
