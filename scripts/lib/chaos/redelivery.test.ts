import { describe, expect, it } from "vitest";
import { redeliverFirst } from "./redelivery.ts";

type Call = { id: string; call: "ack" | "retry"; delaySeconds?: number | undefined };

function batchOf(attempts: number[]): { batch: MessageBatch<string>; calls: Call[] } {
  const calls: Call[] = [];
  const messages = attempts.map(
    (a, i): Message<string> => ({
      id: `m${i}`,
      timestamp: new Date(0),
      body: `body ${i}`,
      attempts: a,
      ack: () => void calls.push({ id: `m${i}`, call: "ack" }),
      retry: (o) => void calls.push({ id: `m${i}`, call: "retry", delaySeconds: o?.delaySeconds }),
    }),
  );
  const batch: MessageBatch<string> = {
    queue: "tillproof-receipts",
    metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } },
    messages,
    ackAll: () => {
      for (const m of messages) m.ack();
    },
    retryAll: () => {},
  };
  return { batch, calls };
}

describe("the consumer's duplicate-delivery fault", () => {
  it("turns a first delivery's ack into an immediate retry, and acks a second delivery", () => {
    const { batch, calls } = batchOf([1, 2]);
    const heard: string[] = [];
    const wrapped = redeliverFirst(batch, (id) => heard.push(id));
    for (const m of wrapped.messages) m.ack();
    expect(calls).toEqual([
      { id: "m0", call: "retry", delaySeconds: 0 },
      { id: "m1", call: "ack" },
    ]);
    expect(heard).toEqual(["m0"]);
  });

  it("leaves the consumer's own retries and the bodies as they were", () => {
    const { batch, calls } = batchOf([1]);
    const wrapped = redeliverFirst(batch, () => {});
    expect(wrapped.messages[0]?.body).toBe("body 0");
    wrapped.messages[0]?.retry({ delaySeconds: 7 });
    expect(calls).toEqual([{ id: "m0", call: "retry", delaySeconds: 7 }]);
  });
});
