/** Public verification (contract: docs/api.md "Verify"), as OpenAPI routes. */
import { createRoute } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import * as res from "../../api/responses.ts";
import { slug } from "../../core/ids.ts";
import type { AppEnv } from "../http.ts";
import { errors, htmlResponse, json, security } from "../openapi.ts";

const tags = ["Verify"];

/** Any text: the code is checked by its keyed check (400 invalid_code), not by a pattern here. */
const codeParam = z.object({
  code: z.string().meta({
    description: "20 Crockford base32 characters (16 on receipts issued before v1.1), any case, dashes optional",
    example: "0K3F-7Q2M-9WXD-4B8R-TC1N",
  }),
});

export const verifyRoute = (cache: MiddlewareHandler<AppEnv>) =>
  createRoute({
    method: "get",
    path: "/v1/verify/{code}",
    operationId: "verifyReceipt",
    tags,
    summary: "Verify a receipt code: the receipt, its status and its inclusion proof",
    security: security.public,
    middleware: [cache] as const,
    request: { params: codeParam },
    responses: {
      200: json(
        "The receipt; status is valid, tampered, or missing (the log has it and no store does)",
        res.verifyAnswerSchema,
      ),
      ...errors({
        400: "Not a valid code (checked without a lookup)",
        404: "No such receipt",
        429: "Past PUBLIC_RPS for this address; see Retry-After",
        503: "The receipt cannot be checked against its log right now; see Retry-After",
      }),
    },
  });

export const receiptPageRoute = (cache: MiddlewareHandler<AppEnv>) =>
  createRoute({
    method: "get",
    path: "/r/{code}",
    operationId: "receiptPage",
    tags,
    summary: "The receipt page a QR code points to: checks the proof in the reader's browser",
    security: security.public,
    middleware: [cache] as const,
    request: { params: codeParam },
    responses: {
      200: htmlResponse("The receipt"),
      400: htmlResponse("A page saying the code is not valid"),
      404: htmlResponse("A page saying no such receipt was issued"),
      503: htmlResponse("A page asking to try again shortly"),
    },
  });

export const offlineVerifyRoute = createRoute({
  method: "get",
  path: "/v1/verify/offline/{tenantId}/{storeId}/{terminalId}/{terminalSeq}",
  operationId: "verifyOfflineReceipt",
  tags,
  summary: "v1.2: whether a terminal's offline receipt has been registered, and if so its verify answer",
  security: security.public,
  request: {
    params: z.object({
      tenantId: slug,
      storeId: slug,
      terminalId: slug,
      terminalSeq: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    }),
  },
  responses: {
    200: json("The registered receipt, as GET /v1/verify/{code} answers it", res.verifyAnswerSchema),
    ...errors({
      400: "An id that is not one (2–63 of a-z, 0-9 and '-'), or a terminalSeq that is not a positive integer",
      404: "not_registered: the gateway has not registered it (yet)",
      429: "Past PUBLIC_RPS for this address; see Retry-After",
      503: "The store's shard or the record store cannot be reached; see Retry-After",
    }),
  },
});

export const offlinePageRoute = createRoute({
  method: "get",
  path: "/o",
  operationId: "offlineReceiptPage",
  tags,
  summary: "v1.2: the page an offline receipt's QR opens (the payload stays in the fragment); checks it in the browser",
  security: security.public,
  responses: {
    200: htmlResponse("The checking page, the same for everyone (cacheable)"),
    503: htmlResponse("The deployment's certificate keys cannot be read now (never cached)"),
  },
});

export const logCheckScriptRoute = createRoute({
  method: "get",
  path: "/r-check.js",
  operationId: "receiptPageCheckScript",
  tags,
  summary: "v1.2: the receipt page's in-browser check (the page pins it by hash)",
  security: security.public,
  request: { query: z.object({ v: z.string().max(64).optional() }) },
  responses: {
    200: { description: "JavaScript", content: { "text/javascript": { schema: z.string() } } },
    ...errors({ 404: "not_found: another version than this deployment's (a page from before or after a deploy)" }),
  },
});

export const offlineWorkerRoute = createRoute({
  method: "get",
  path: "/o-sw.js",
  operationId: "offlinePageServiceWorker",
  tags,
  summary: "v1.2: the service worker that keeps /o working with no network",
  security: security.public,
  responses: { 200: { description: "JavaScript", content: { "text/javascript": { schema: z.string() } } } },
});
