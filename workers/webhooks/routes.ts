/** The tenant webhook operations (contract: docs/api.md "Tenant webhooks"), as OpenAPI routes. */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import * as res from "../../api/responses.ts";
import { slug } from "../../core/ids.ts";
import { webhookInputSchema } from "../../core/webhooks.ts";
import { errors, json, jsonBody, security, tenantErrors } from "../openapi.ts";
import { deliveryPageSchema, deliveryResponseSchema, webhookListSchema, webhookSavedSchema } from "./schemas.ts";

const webhookPath = z.object({ tenantId: slug, webhookId: slug });
const tags = ["Webhooks"];

const exampleWebhook = {
  id: "erp-mirror",
  url: "https://erp.example.com/hooks/tillproof",
  events: ["receipt.persisted" as const],
  storeIds: ["berlin-1"],
  createdAt: "2026-11-30T09:00:00.000Z",
  updatedAt: "2026-11-30T09:00:00.000Z",
};

export const putWebhook = createRoute({
  method: "put",
  path: "/v1/tenants/{tenantId}/webhooks/{webhookId}",
  operationId: "putWebhook",
  tags,
  summary: "Create or update a webhook; a new one's signing secret is shown once",
  security: security.tenant,
  middleware: [jsonBody] as const,
  request: {
    params: webhookPath,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: webhookInputSchema,
          example: { url: exampleWebhook.url, events: ["receipt.persisted"], storeIds: ["berlin-1"] },
        },
      },
    },
  },
  responses: {
    201: json("Created; `secret` is shown this once", webhookSavedSchema, {
      webhook: exampleWebhook,
      secret: "whsec_GXDwEOspMPNqT5CHrkLtjE6VmxBRgDPbUBpqo_dhPkY",
    }),
    200: json("Updated (the secret is unchanged)", webhookSavedSchema),
    ...errors({
      ...tenantErrors,
      400: "Malformed JSON or schema, a URL that is not https or points to a private address, an unknown store",
      409: "The tenant has 10 webhooks already",
      415: "Not JSON",
    }),
  },
});

export const listWebhooksRoute = createRoute({
  method: "get",
  path: "/v1/tenants/{tenantId}/webhooks",
  operationId: "listWebhooks",
  tags,
  summary: "The tenant's webhooks",
  security: security.tenant,
  request: { params: z.object({ tenantId: slug }) },
  responses: {
    200: json("The webhooks, by id", webhookListSchema),
    ...errors(tenantErrors),
  },
});

export const getWebhook = createRoute({
  method: "get",
  path: "/v1/tenants/{tenantId}/webhooks/{webhookId}",
  operationId: "getWebhook",
  tags,
  summary: "One webhook",
  security: security.tenant,
  request: { params: webhookPath },
  responses: {
    200: json("The webhook", webhookSavedSchema.omit({ secret: true })),
    ...errors({ ...tenantErrors, 404: "No such webhook" }),
  },
});

export const deleteWebhookRoute = createRoute({
  method: "delete",
  path: "/v1/tenants/{tenantId}/webhooks/{webhookId}",
  operationId: "deleteWebhook",
  tags,
  summary: "Delete a webhook and its delivery log; nothing more is sent",
  security: security.tenant,
  request: { params: webhookPath },
  responses: {
    204: { description: "Deleted" },
    ...errors({ ...tenantErrors, 404: "No such webhook" }),
  },
});

export const listDeliveriesRoute = createRoute({
  method: "get",
  path: "/v1/tenants/{tenantId}/webhooks/{webhookId}/deliveries",
  operationId: "listWebhookDeliveries",
  tags,
  summary: "The webhook's delivery log, newest first",
  security: security.tenant,
  request: {
    params: webhookPath,
    query: z.object({
      status: z.enum(["pending", "delivered", "failed", "held"]).optional(),
      limit: z.coerce.number().int().min(1).max(500).default(100),
      before: z.string().max(64).optional().meta({ description: "The `next` of the previous page" }),
    }),
  },
  responses: {
    200: json("A page of deliveries", deliveryPageSchema),
    ...errors({ ...tenantErrors, 404: "No such webhook" }),
  },
});

export const retryDeliveryRoute = createRoute({
  method: "post",
  path: "/v1/tenants/{tenantId}/webhooks/{webhookId}/deliveries/{eventId}/retry",
  operationId: "retryWebhookDelivery",
  tags,
  summary: "Send one delivery again, now (also one that was delivered or given up); answers with the outcome",
  security: security.tenant,
  request: {
    params: webhookPath.extend({ eventId: z.string().regex(/^evt_[0-9A-Z]{16,20}$/, "must be an event id, evt_…") }),
  },
  responses: {
    200: json("The delivery after this attempt", deliveryResponseSchema),
    ...errors({ ...tenantErrors, 404: "No such webhook or delivery" }),
  },
});

/** What a webhook receives (OpenAPI 3.1 `webhooks`): the event, its headers, and the answer expected. */
export const receiptPersistedEvent = {
  method: "post" as const,
  path: "receipt.persisted",
  operationId: "receiptPersisted",
  tags,
  summary: "A sale was persisted: sent to each webhook whose events and stores match",
  // Tillproof calls the receiver: the signature header is the credential, not a scheme of this API.
  security: security.public,
  request: {
    headers: z.object({
      "tillproof-event-id": z.string().meta({ description: "evt_ and the receipt's code: drop one you have seen" }),
      "tillproof-signature": z.string().meta({
        description: 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>; see docs/api.md',
      }),
    }),
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.object({
            id: z.string(),
            type: z.literal("receipt.persisted"),
            createdAt: z.iso.datetime(),
            data: z.object({ receipt: res.verifiedReceiptSchema.omit({ status: true, persisted: true, proof: true }) }),
          }),
        },
      },
    },
  },
  responses: {
    200: { description: "Any 2xx within 10 s: delivered" },
    default: { description: "Anything else, or no answer: retried with backoff for at least 24 h" },
  },
};
