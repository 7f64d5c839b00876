/** The receipt lottery (contract: docs/api.md "Receipt lottery"), as OpenAPI routes. */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { slug } from "../../core/ids.ts";
import { drawRequestSchema } from "../../core/lottery.ts";
import { requireOperator } from "../http.ts";
import { errors, htmlResponse, json, jsonBody, security } from "../openapi.ts";
import { drawCheckSchema, drawListSchema, drawResponseSchema, winnersPageSchema } from "./schemas.ts";

const tags = ["Lottery"];
const drawPath = z.object({ id: slug });
const publicErrors = { 429: "Past PUBLIC_RPS for this address; see Retry-After" } as const;
const operatorErrors = { 401: "Missing or invalid operator token" } as const;

export const createDrawRoute = createRoute({
  method: "post",
  path: "/v1/lottery/draws",
  operationId: "createDraw",
  tags,
  summary: "Create a draw; its commitment is published now, its reveal when it is run",
  security: security.operator,
  middleware: [requireOperator, jsonBody] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: drawRequestSchema,
          example: {
            id: "december-2026",
            title: "December receipt lottery",
            closesAt: "2026-12-31T23:00:00Z",
            minTotal: 500,
            currency: "EUR",
            prizes: [{ name: "€1,000", digits: 6, numbers: 1 }],
          },
        },
      },
    },
  },
  responses: {
    201: json("Created, open", drawResponseSchema),
    ...errors({
      ...operatorErrors,
      400: "Malformed body, or closesAt not in the future",
      409: "Id taken, or a shard is already past closesAt",
      415: "Not JSON",
    }),
  },
});

export const runDrawRoute = createRoute({
  method: "post",
  path: "/v1/lottery/draws/{id}/run",
  operationId: "runDraw",
  tags,
  summary: "Run the draw once it has closed; running it again returns the same result",
  security: security.operator,
  middleware: [requireOperator] as const,
  request: { params: drawPath },
  responses: {
    200: json("Drawn", drawResponseSchema),
    ...errors({
      ...operatorErrors,
      400: "Bad id",
      404: "No such draw",
      409: "Not closed yet",
      503: "A shard or Postgres cannot tell yet; see Retry-After",
    }),
  },
});

export const listDrawsRoute = createRoute({
  method: "get",
  path: "/v1/lottery/draws",
  operationId: "listDraws",
  tags,
  summary: "Every draw",
  security: security.public,
  responses: { 200: json("The draws", drawListSchema), ...errors(publicErrors) },
});

export const getDrawRoute = createRoute({
  method: "get",
  path: "/v1/lottery/draws/{id}",
  operationId: "getDraw",
  tags,
  summary: "A draw; once drawn, with its reveal, seed, shard roots and winning numbers",
  security: security.public,
  request: { params: drawPath },
  responses: {
    200: json("The draw", drawResponseSchema),
    ...errors({ ...publicErrors, 400: "Bad id", 404: "No such draw" }),
  },
});

export const checkCodeRoute = createRoute({
  method: "get",
  path: "/v1/lottery/draws/{id}/check/{code}",
  operationId: "checkDrawCode",
  tags,
  summary: "Whether a receipt takes part in a draw, and what it won",
  security: security.public,
  request: { params: drawPath.extend({ code: z.string().meta({ description: "A receipt code, any form" }) }) },
  responses: {
    200: json("The receipt's part in the draw", drawCheckSchema),
    ...errors({ ...publicErrors, 400: "Bad id or not a valid code", 404: "No such draw" }),
  },
});

export const winnersRoute = createRoute({
  method: "get",
  path: "/v1/lottery/draws/{id}/winners",
  operationId: "listDrawWinners",
  tags,
  summary: "The winning receipts, by code (operator)",
  security: security.operator,
  middleware: [requireOperator] as const,
  request: {
    params: drawPath,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      after: z
        .string()
        .regex(/^[0-9A-Z]{16,20}$/)
        .optional()
        .meta({ description: "The `next` of the previous page" }),
    }),
  },
  responses: {
    200: json("A page of winners", winnersPageSchema),
    ...errors({ ...operatorErrors, 400: "Bad id or query", 404: "No such draw", 409: "Not drawn yet" }),
  },
});

export const drawPageRoute = createRoute({
  method: "get",
  path: "/lottery/{id}",
  operationId: "drawPage",
  tags,
  summary: "The draw's page: its rules, and once drawn its winning endings and how to check them",
  security: security.public,
  request: { params: drawPath },
  responses: { 200: htmlResponse("The page"), ...errors({ ...publicErrors, 400: "Bad id", 404: "No such draw" }) },
});
