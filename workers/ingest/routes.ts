/** Ingest operations (contract: docs/api.md "Ingest"), as OpenAPI routes. */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import * as res from "../../api/responses.ts";
import { idempotencyKeySchema, receiptInputSchema } from "../../core/receipt.ts";
import { KiB, limitBody } from "../http.ts";
import { errors, json, jsonBody, security } from "../openapi.ts";
import { terminalAuth } from "./auth.ts";
import { batchResultSchema, batchSchema } from "./schemas.ts";

const tags = ["Ingest"];

export const exampleSale = {
  issuedAt: "2026-11-30T10:15:00+01:00",
  currency: "EUR",
  items: [
    { name: "Espresso", sku: "A1", quantity: 2, unitPrice: 250, taxRate: 7, total: 500 },
    { name: "Croissant", quantity: 1, unitPrice: 180, taxRate: 7, total: 180 },
  ],
  total: 680,
  payments: [{ method: "card" as const, amount: 680 }],
  cashier: "Mia",
};

const exampleIssued = {
  code: "0K3F-7Q2M-9WXD-4B8R-TC1N",
  verifyUrl: "https://receipts.example.com/r/0K3F-7Q2M-9WXD-4B8R-TC1N",
  tenantId: "acme",
  storeId: "berlin-1",
  terminalId: "till-1",
  seq: 42,
  issuedAt: "2026-11-30T09:15:00.000Z",
  receivedAt: "2026-11-30T09:15:00.412Z",
  hash: "9f2c1b7e3d4a5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd",
  prevHash: "0e1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100ff",
  kind: "sale" as const,
  refersTo: null,
};

const ingestErrors = {
  400: "Malformed JSON, schema or arithmetic; a card number; a bad Idempotency-Key; a refersTo that is not a receipt code (invalid_code)",
  401: "Missing, invalid or revoked terminal token",
  415: "Not JSON",
  429: "The store sends more than STORE_MAX_RPS receipts a second; see Retry-After",
  503: "Temporarily unavailable; retry with the same Idempotency-Key after Retry-After",
} as const;

export const issueReceiptRoute = createRoute({
  method: "post",
  path: "/v1/receipts",
  operationId: "issueReceipt",
  tags,
  summary: "Issue a receipt code for a sale",
  security: security.terminal,
  middleware: [terminalAuth, limitBody(256 * KiB), jsonBody] as const,
  request: {
    headers: z.object({ "idempotency-key": idempotencyKeySchema }),
    body: { required: true, content: { "application/json": { schema: receiptInputSchema, example: exampleSale } } },
  },
  responses: {
    201: json("Issued", res.issuedReceiptSchema, exampleIssued),
    200: json("A retry with the same key and body: the identical answer", res.issuedReceiptSchema),
    ...errors({
      ...ingestErrors,
      409: "Idempotency-Key reused with a different body; or a refund or void its original refuses (original_not_found, original_not_refundable, refund_exceeds_original, void_window_closed, void_not_allowed)",
      413: "Body over 256 KiB",
    }),
  },
});

export const issueBatchRoute = createRoute({
  method: "post",
  path: "/v1/receipts/batch",
  operationId: "issueReceiptBatch",
  tags,
  summary: "Issue up to 100 receipts recorded offline, in order; each is judged alone",
  security: security.terminal,
  middleware: [terminalAuth, limitBody(2048 * KiB), jsonBody] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: batchSchema,
          example: { receipts: [{ ...exampleSale, idempotencyKey: "till-1-000042" }] },
        },
      },
    },
  },
  responses: {
    200: json("One result per receipt, in input order (each with its own status)", batchResultSchema, {
      results: [{ status: 201, receipt: exampleIssued }],
    }),
    ...errors({ ...ingestErrors, 413: "Body over 2 MiB" }),
  },
});
