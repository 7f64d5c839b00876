/**
 * The shapes the API answers with, as zod schemas: the OpenAPI document is
 * generated from them (and from the request schemas), and the TypeScript types
 * of the responses are inferred from them.
 */
import { z } from "zod";
import { brandingInputSchema } from "./branding.ts";
import { groupCode } from "./code.ts";
import { type ChainRecord, itemSchema, paymentSchema } from "./receipt.ts";

const hash = z.string().regex(/^[0-9a-f]{64}$/);
const code = z
  .string()
  .regex(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3,4}$/)
  .meta({
    description: "20 characters (16 on receipts issued before v1.1), grouped by 4",
    example: "0000-0000-0K00-2TCG-9NAW",
  });
const time = z.iso.datetime();

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: "Stable snake_case code, e.g. validation_failed" }),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      requestId: z.string().optional().meta({ description: "The request's id, as in the x-request-id header" }),
    }),
  })
  .meta({ id: "Error" });

export const issuedReceiptSchema = z
  .object({
    code,
    verifyUrl: z.url(),
    tenantId: z.string(),
    storeId: z.string(),
    terminalId: z.string(),
    seq: z.number().int().positive(),
    issuedAt: time,
    receivedAt: time,
    hash,
    prevHash: hash,
  })
  .meta({ id: "IssuedReceipt" });
export type IssuedReceipt = z.infer<typeof issuedReceiptSchema>;

/** An inclusion proof of the receipt's hash in its shard's log, for the checkpoint it carries. */
export const proofSchema = z
  .object({
    shard: z.number().int(),
    leafIndex: z.number().int(),
    treeSize: z.number().int(),
    inclusion: z.array(hash),
    checkpoint: z.string().meta({ description: "The C2SP signed checkpoint (signed-note text)" }),
  })
  .nullable()
  .meta({ description: "null until a signed checkpoint covers the receipt (at most CHECKPOINT_MS)" });
export type Proof = z.infer<typeof proofSchema>;

export const verifiedReceiptSchema = z
  .object({
    code,
    status: z.enum(["valid", "tampered"]),
    persisted: z.boolean(),
    proof: proofSchema,
    tenant: z.object({ id: z.string(), displayName: z.string() }),
    store: z.object({ id: z.string(), name: z.string() }),
    terminalId: z.string(),
    seq: z.number().int(),
    issuedAt: time,
    receivedAt: time,
    currency: z.string(),
    total: z.number().int(),
    items: z.array(itemSchema),
    payments: z.array(paymentSchema),
    hash,
    prevHash: hash,
  })
  .meta({ id: "VerifiedReceipt" });

export type VerifiedReceipt = z.infer<typeof verifiedReceiptSchema>;

/** A code that was issued (its counter is within its shard's log) whose record is gone. */
export const missingReceiptSchema = z
  .object({
    code,
    status: z.literal("missing"),
    persisted: z.literal(false),
    proof: proofSchema,
  })
  .meta({ id: "MissingReceipt" });
export type MissingReceipt = z.infer<typeof missingReceiptSchema>;

export const verifyAnswerSchema = z.union([verifiedReceiptSchema, missingReceiptSchema]);

export const batchResultSchema = z.object({
  results: z.array(
    z.object({
      status: z.number().int(),
      receipt: issuedReceiptSchema.optional(),
      error: errorBodySchema.shape.error.optional(),
    }),
  ),
});

export const tenantCreatedSchema = z.object({
  tenant: z.object({ id: z.string(), name: z.string(), createdAt: time }),
  apiKey: z.string().meta({ description: "Shown once; only its hash is stored" }),
});

export const storeResponseSchema = z.object({
  store: z.object({
    tenantId: z.string(),
    id: z.string(),
    name: z.string(),
    address: z.string().nullable(),
    timezone: z.string(),
    createdAt: time,
    updatedAt: time,
  }),
});

export const terminalCreatedSchema = z.object({
  terminal: z.object({ id: z.string(), storeId: z.string(), label: z.string().optional(), createdAt: time }),
  token: z.string().meta({ description: "Shown once; only its hash is stored" }),
});

export const apiKeySchema = z.object({ apiKey: z.string() });

export const auditPageSchema = z.object({
  entries: z.array(
    z.object({
      id: z.number().int(),
      at: time,
      actor: z.string(),
      action: z.string(),
      target: z.string().nullable(),
      detail: z.unknown(),
    }),
  ),
  next: z.number().int().nullable(),
});

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

export const brandingResponseSchema = z.object({
  branding: brandingInputSchema.extend({ updatedAt: time.nullable() }),
});

export const webhookSchema = z
  .object({
    id: z.string(),
    url: z.url(),
    events: z.array(z.enum(["receipt.persisted"])),
    storeIds: z.array(z.string()).nullable().meta({ description: "null: every store of the tenant" }),
    createdAt: time,
    updatedAt: time,
  })
  .meta({ id: "Webhook" });

export const webhookSavedSchema = z.object({
  webhook: webhookSchema,
  secret: z
    .string()
    .optional()
    .meta({ description: "The signing secret, whsec_…: only in the answer that created the webhook" }),
});

export const webhookListSchema = z.object({ webhooks: z.array(webhookSchema) });

export const deliverySchema = z
  .object({
    eventId: z.string().meta({ description: "The Tillproof-Event-Id header: one per receipt" }),
    type: z.enum(["receipt.persisted"]),
    code,
    status: z.enum(["pending", "delivered", "failed"]).meta({
      description: "pending: being retried; delivered: a 2xx came back; failed: retried for 24 h, given up",
    }),
    attempts: z.number().int(),
    createdAt: time,
    lastAttemptAt: time.nullable(),
    lastStatus: z.number().int().nullable().meta({ description: "The receiver's HTTP status (null: no answer)" }),
    lastError: z.string().nullable(),
    deliveredAt: time.nullable(),
    nextAttemptAt: time.nullable(),
  })
  .meta({ id: "Delivery" });

export const deliveryPageSchema = z.object({
  deliveries: z.array(deliverySchema),
  next: z.string().nullable().meta({ description: "Pass as ?before= for the next page" }),
});

export const deliveryResponseSchema = z.object({ delivery: deliverySchema });

const prize = z.object({ name: z.string(), digits: z.number().int(), numbers: z.number().int() });

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

const money = z.number().int();

export const salesSeriesSchema = z.object({
  series: z.array(
    z.object({
      start: z.string().meta({ description: "YYYY-MM-DD (store-local day) or the UTC hour's RFC 3339 start" }),
      storeId: z.string(),
      currency: z.string(),
      receipts: z.number().int(),
      gross: money,
      byPayment: z.object({ cash: money, card: money, other: money }),
      byTaxRate: z.record(z.string(), money).meta({ description: "Gross per tax rate; 'none' for items without one" }),
    }),
  ),
});

export const topItemsSchema = z.object({
  items: z.array(
    z.object({
      sku: z.string().nullable(),
      name: z.string(),
      quantity: z.number(),
      revenue: money,
      receipts: z.number().int(),
      currency: z.string(),
    }),
  ),
});

export const tenantTotalsSchema = z.object({
  tenants: z.array(z.object({ tenantId: z.string(), currency: z.string(), receipts: z.number().int(), gross: money })),
});

/** What verify and the webhooks tell about a receipt, without what only verifying adds (status, persisted, proof). */
export type ReceiptFields = Omit<VerifiedReceipt, "status" | "persisted" | "proof">;

export function receiptFields(
  r: ChainRecord,
  hash: string,
  names: { tenantDisplayName: string; storeName: string },
): ReceiptFields {
  return {
    code: groupCode(r.code),
    tenant: { id: r.tenantId, displayName: names.tenantDisplayName },
    store: { id: r.storeId, name: names.storeName },
    terminalId: r.terminalId,
    seq: r.seq,
    issuedAt: r.issuedAt,
    receivedAt: r.receivedAt,
    currency: r.currency,
    total: r.total,
    items: r.items,
    payments: r.payments,
    hash,
    prevHash: r.prevHash,
  };
}
