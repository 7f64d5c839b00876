/**
 * The shard's queue port with the chaos faults of core/faults.ts: the send is
 * delivered first, then the fault strikes, which is the case that tests
 * at-least-once delivery (the queue has it, the shard does not know).
 */

import type { ShardDeps } from "../../../durable-objects/ports.ts";
import type { FaultName } from "./faults.ts";

export function faultyQueue(
  queue: ShardDeps["queue"],
  fault: () => FaultName | null,
  evict: (reason: string) => void,
): ShardDeps["queue"] {
  return {
    async sendBatch(messages) {
      const f = fault();
      await queue.sendBatch(messages);
      if (f === "evict_mid_flush") evict("chaos: evicted mid-flush");
      if (f === "send_then_throw") throw new Error("chaos: the send was delivered but its reply lost");
    },
  };
}
