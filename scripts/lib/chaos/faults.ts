/**
 * Faults `npm run chaos` injects into a running local stack, through
 * POST /v1/ops/faults. The route exists only in the chaos entry
 * (scripts/lib/chaos/entry.ts), never in the product's bundle; each fault is
 * armed for a bounded time, so a chaos run that dies leaves nothing broken
 * behind.
 */
import { z } from "zod";

export const FAULTS = {
  /** A shard's object is reset right after a send delivered, before it records having sent (the next send's once per arming). */
  evict_mid_flush: "shard",
  /** The queue accepts a send, but the shard hears an error (it sends it again later). */
  send_then_throw: "shard",
  /** The consumer gets each message a second time after it persisted it (the queue's at-least-once). */
  duplicate_delivery: "consumer",
} as const;

export type FaultName = keyof typeof FAULTS;

export const faultRequestSchema = z.strictObject({
  fault: z.enum(Object.keys(FAULTS) as [FaultName, ...FaultName[]]),
  seconds: z.number().positive().max(600),
});

/** A fault and until when it holds (ms since the epoch). */
export type FaultPlan = { fault: FaultName; until: number };

/** The plan's fault if it still holds at `now`. */
export function activeFault(plan: FaultPlan | null, now: number): FaultName | null {
  return plan && now < plan.until ? plan.fault : null;
}
