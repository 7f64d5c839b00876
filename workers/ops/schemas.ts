/** What ops answers with, as zod schemas: the OpenAPI document and the response types come from them. */
import { z } from "zod";

export const healthSchema = z.object({ ok: z.boolean(), checks: z.record(z.string(), z.string()) });

const shardStats = z.object({
  shard: z.number().int(),
  issued: z.number().int(),
  enqueued: z.number().int(),
  persisted: z.number().int(),
  unpersisted: z.number().int(),
  oldestUnpersistedAgeMs: z.number().nullable(),
  messagesSent: z.number().int(),
});

export const pipelineSchema = z.object({
  shardCount: z.number().int(),
  /** "ok", or "unreachable": then every shard was asked directly. */
  postgres: z.string(),
  totals: shardStats.omit({ shard: true, oldestUnpersistedAgeMs: true }).extend({ oldestUnpersistedAgeMs: z.number() }),
  /** A shard that could not answer is `{ shard, error }`. */
  shards: z.array(z.union([shardStats, z.object({ shard: z.number().int(), error: z.string() })])),
});
