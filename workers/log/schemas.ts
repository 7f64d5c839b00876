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

export const witnessesSchema = z.object({
  quorum: z.number().int().meta({ description: "Cosignatures a served checkpoint needs (0: no witnesses configured)" }),
  witnesses: z.array(z.object({ name: z.string(), vkey: z.string() })),
  log: z.object({ origin: z.string(), vkey: z.string().nullable() }),
  terminalCertKey: z.string().nullable().meta({
    description:
      "v1.2: the verifier key of the gateway's terminal-certificate key (certificates, offline and signed QR codes); null when none is configured",
  }),
  retiredTerminalCertKeys: z.array(z.string()).meta({
    description: "Verifier keys rotated out: what they signed still checks",
  }),
});
