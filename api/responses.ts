/**
 * The response pieces several features share, as zod schemas: codes, hashes,
 * times, the error body, an issued receipt and a receipt as verify tells it.
 * Each feature's own response schemas live beside its routes (schemas.ts).
 */
import { z } from "zod";
import { groupCode } from "../core/code.ts";
import { offlineSchema } from "../core/offline.ts";
import { type ChainRecord, itemSchema, kindOf, paymentSchema, RECEIPT_KINDS } from "../core/receipt.ts";

export const hash = z.string().regex(/^[0-9a-f]{64}$/);
export const code = z
  .string()
  .regex(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3,4}$/)
  .meta({
    description: "20 characters (16 on receipts issued before v1.1), grouped by 4",
    example: "0000-0000-0K00-2TCG-9NAW",
  });
export const time = z.iso.datetime();

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
    kind: z.enum(RECEIPT_KINDS).meta({ description: "v1.2: sale, refund or void" }),
    refersTo: code.nullable().meta({ description: "v1.2: the original sale of a refund or void" }),
    late: z
      .literal(true)
      .optional()
      .meta({ description: "v1.2: an offline receipt registered more than OFFLINE_MAX_HOURS after it was signed" }),
    signedQr: z.string().optional().meta({
      description:
        "v1.2: what the printed QR code carries: verifyUrl#payload, signed by the gateway's terminal-certificate key (absent only while the operator has not set TERMINAL_CERT_KEY)",
    }),
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
  .meta({
    description:
      "v1.2: against the latest witnessed checkpoint (its cosignatures in the note); null until one covers the receipt",
  });
export type Proof = z.infer<typeof proofSchema>;

const witnessed = z.boolean().meta({
  description: "v1.2: a checkpoint the witness quorum cosigned covers the receipt (then `proof` is against it)",
});

export const verifiedReceiptSchema = z
  .object({
    code,
    status: z.enum(["valid", "tampered"]),
    persisted: z.boolean(),
    proof: proofSchema,
    witnessed,
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
    kind: z.enum(RECEIPT_KINDS),
    refersTo: code.nullable(),
    reason: z.string().optional().meta({ description: "Why money went back (a refund's own words)" }),
    cashier: z.string().optional().meta({
      description: "v1.2: as sent, when it was; with the fields above it rebuilds the record that `hash` covers",
    }),
    refunds: z
      .array(z.object({ code, total: z.number().int(), receivedAt: time }))
      .optional()
      .meta({ description: "A sale's refunds, in the order they were issued" }),
    refundedTotal: z.number().int().optional().meta({ description: "A sale's refunds together" }),
    voidedBy: code.nullable().optional().meta({ description: "The void that cancelled this sale, if any" }),
    offline: offlineSchema.optional().meta({ description: "v1.2: signed by its terminal while offline, as sent" }),
    late: z
      .literal(true)
      .optional()
      .meta({ description: "v1.2: registered more than OFFLINE_MAX_HOURS after it was signed" }),
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
    witnessed,
  })
  .meta({ id: "MissingReceipt" });
export type MissingReceipt = z.infer<typeof missingReceiptSchema>;

export const verifyAnswerSchema = z.union([verifiedReceiptSchema, missingReceiptSchema]);

export const money = z.number().int();

/** What verify and the webhooks tell about a receipt, without what only verifying adds (status, persisted, proof). */
export type ReceiptFields = Omit<
  VerifiedReceipt,
  "status" | "persisted" | "proof" | "witnessed" | "refunds" | "refundedTotal" | "voidedBy"
>;

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
    kind: kindOf(r),
    refersTo: r.refersTo === undefined ? null : groupCode(r.refersTo),
    ...(r.reason === undefined ? {} : { reason: r.reason }),
    ...(r.cashier === undefined ? {} : { cashier: r.cashier }),
    ...(r.offline === undefined ? {} : { offline: r.offline }),
    ...(r.late ? { late: true as const } : {}),
  };
}
