/** What lottery answers with, as zod schemas: the OpenAPI document and the response types come from them. */
import { z } from "zod";
import { code, hash, time } from "../../api/responses.ts";

const prize = z.object({ name: z.string(), digits: z.number().int(), numbers: z.number().int() });

const boundaryLeaf = z.object({
  index: z.number().int().meta({ description: "0-based leaf index" }),
  receivedAt: time,
  hash,
  inclusion: z.array(z.string()),
});

export const drawSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    opensAt: time,
    closesAt: time,
    minTotal: z.number().int(),
    currency: z.string().optional(),
    tenants: z.array(z.string()).optional(),
    prizes: z.array(prize),
    commitment: hash.meta({ description: "hex SHA-256 of the reveal, published at creation" }),
    status: z.enum(["open", "drawn"]),
    drawnAt: time.optional(),
    reveal: hash.optional().meta({ description: "Once drawn" }),
    seed: hash.optional(),
    shards: z.array(z.object({ shard: z.number().int(), size: z.number().int(), root: hash })).optional(),
    boundaries: z
      .array(
        z.object({
          shard: z.number().int(),
          size: z.number().int(),
          checkpoint: z.string().meta({ description: "The witnessed checkpoint the proofs are against" }),
          last: boundaryLeaf.nullable().meta({ description: "The last leaf before the close (null: size 0)" }),
          next: boundaryLeaf
            .nullable()
            .meta({ description: "The first leaf at or after the close (null: the witnessed tree ends at the cut)" }),
        }),
      )
      .optional()
      .meta({
        description:
          "What proves each shard's size at the close (v1.2): every shard whose log had leaves when the draw ran, a shard left out with size 0. Absent for draws run before.",
      }),
    winningNumbers: z
      .array(z.object({ prize: z.number().int(), name: z.string(), suffixes: z.array(z.string()) }))
      .optional(),
    winners: z.number().int().optional(),
  })
  .meta({ id: "Draw" });

export const drawResponseSchema = z.object({ draw: drawSchema });
export const drawListSchema = z.object({ draws: z.array(drawSchema) });

export const drawCheckSchema = z.object({
  drawId: z.string(),
  code,
  status: z.enum(["open", "drawn"]),
  eligible: z.boolean(),
  prize: z.object({ prize: z.number().int(), name: z.string() }).nullable(),
});

export const winnersPageSchema = z.object({
  winners: z.array(
    z.object({
      code,
      prize: z.object({ prize: z.number().int(), name: z.string().optional() }),
      tenantId: z.string(),
      storeId: z.string(),
      total: z.number().int(),
      currency: z.string(),
      receivedAt: time,
    }),
  ),
  next: z.string().nullable(),
});
