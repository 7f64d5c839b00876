/** What webhooks answers with, as zod schemas: the OpenAPI document and the response types come from them. */
import { z } from "zod";
import { code, time } from "../../api/responses.ts";

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
    status: z.enum(["pending", "delivered", "failed", "held"]).meta({
      description:
        "pending: being retried; delivered: a 2xx came back; failed: retried for 24 h, given up; held: its receipt failed the check verify makes against the signed log, so it was never signed or sent (lastError says why)",
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
