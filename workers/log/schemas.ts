import { z } from "zod";
import { MAX_SHARDS } from "../../core/code.ts";

const count = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,14})$/, "must be a whole number")
  .transform(Number);

export const shardParam = count.refine((n) => n < MAX_SHARDS, `must be below ${MAX_SHARDS}`);
export const inclusionQuery = z.object({ index: count, size: count });
export const consistencyQuery = z.object({ from: count, to: count });
export const tileLevel = count.refine((n) => n < 8, "must be below 8");

export const inclusionSchema = z.object({
  index: z.number().int(),
  size: z.number().int(),
  inclusion: z.array(z.string().regex(/^[0-9a-f]{64}$/)),
});
export const consistencySchema = z.object({
  from: z.number().int(),
  to: z.number().int(),
  consistency: z.array(z.string().regex(/^[0-9a-f]{64}$/)),
});
