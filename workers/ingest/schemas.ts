/** What ingest takes and answers, as zod schemas: the OpenAPI document and the types come from them. */
import { z } from "zod";
import { errorBodySchema, issuedReceiptSchema } from "../../api/responses.ts";
import { idempotencyKeySchema, receiptInputSchema } from "../../core/receipt.ts";

/**
 * An offline batch. Entries are checked one by one (each judged alone), so the
 * envelope only requires objects; the documented shape is the full receipt.
 */
export const batchSchema = z.strictObject({
  receipts: z
    .array(z.record(z.string(), z.unknown()))
    .min(1)
    .max(100)
    .meta({
      description: "1–100 receipts, each with its own idempotencyKey",
      // Inlined (an empty registry: no component ids), as this is plain JSON Schema inside the document.
      items: z.toJSONSchema(receiptInputSchema.extend({ idempotencyKey: idempotencyKeySchema }), {
        io: "input",
        metadata: z.registry(),
      }),
    }),
});

// Responses.
export const batchResultSchema = z.object({
  results: z.array(
    z.object({
      status: z.number().int(),
      receipt: issuedReceiptSchema.optional(),
      error: errorBodySchema.shape.error.optional(),
    }),
  ),
});
