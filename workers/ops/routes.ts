/** Operations (contract: docs/api.md "Operations", "Health"), as OpenAPI routes. */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { requireOperator } from "../http.ts";
import { errors, htmlResponse, json, security, textResponse } from "../openapi.ts";
import { healthSchema, pipelineSchema } from "./schemas.ts";

const tags = ["Operations"];
const operatorErrors = { 401: "Missing or invalid operator token" } as const;

export const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  operationId: "getHealth",
  tags,
  summary: "Postgres, the secrets and the settings, each ok or what is wrong",
  security: security.public,
  responses: {
    200: json("Healthy", healthSchema),
    503: json("What failed (Retry-After)", healthSchema),
  },
});

export const pipelineRoute = createRoute({
  method: "get",
  path: "/v1/ops/pipeline",
  operationId: "getPipeline",
  tags,
  summary: "Per shard: issued, enqueued, persisted, and the oldest unpersisted receipt's age",
  security: security.operator,
  middleware: [requireOperator] as const,
  responses: { 200: json("Progress", pipelineSchema), ...errors(operatorErrors) },
});

export const statusRoute = createRoute({
  method: "get",
  path: "/v1/ops/status",
  operationId: "getStatus",
  tags,
  summary: "The service at a glance, with its alerts in plain words (what /ops shows)",
  security: security.operator,
  middleware: [requireOperator] as const,
  responses: {
    200: json(
      "Shards, Postgres, partitions, dead letters, alerts",
      z.looseObject({
        postgres: z.string(),
        breakerOpen: z.boolean(),
        deadLetters: z.number().int().nullable(),
        shards: z.array(z.looseObject({ shard: z.number().int() })),
        failedShards: z.array(z.number().int()),
        webhooks: z
          .object({ pending: z.number().int(), oldestPendingSeconds: z.number(), failed: z.number().int() })
          .nullable(),
        quarantine: z.object({ count: z.number().int(), oldestAgeSeconds: z.number().nullable() }).nullable(),
        controlPlane: z.object({ lagSeconds: z.number(), database: z.string() }).nullish().meta({
          description: "v1.2, with receipts databases: the slowest one's copy of the control plane, behind the primary",
        }),
        routing: z.string().nullish().meta({
          description:
            "v1.2: what is wrong with DATABASE_URLS when it cannot be read (the figures are then the primary's)",
        }),
        alerts: z.array(z.string()).meta({ description: "What is wrong, in plain words; empty when all is well" }),
        at: z.iso.datetime(),
      }),
    ),
    ...errors(operatorErrors),
  },
});

export const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  operationId: "getMetrics",
  tags,
  summary: "Prometheus text format: receipts, lag, code space, log, dead letters, Postgres",
  security: security.operator,
  middleware: [requireOperator] as const,
  responses: { 200: textResponse("text/plain; version=0.0.4"), ...errors(operatorErrors) },
});

const deadLetterQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().optional().meta({ description: "The `cursor` of the previous page" }),
});

export const deadLettersRoute = createRoute({
  method: "get",
  path: "/v1/ops/dead-letters",
  operationId: "listDeadLetters",
  tags,
  summary: "Receipt batches the queue gave up on, kept until replayed",
  security: security.operator,
  middleware: [requireOperator] as const,
  request: { query: deadLetterQuery },
  responses: {
    200: json(
      "A page of dead letters",
      z.object({
        deadLetters: z.array(
          z.object({
            id: z.string(),
            deadAt: z.iso.datetime(),
            attempts: z.number().int(),
            shard: z.number().int(),
            receipts: z.number().int(),
            counters: z.array(z.number().int()),
          }),
        ),
        cursor: z.string().nullable(),
      }),
    ),
    ...errors({ ...operatorErrors, 400: "Bad query" }),
  },
});

export const replayRoute = createRoute({
  method: "post",
  path: "/v1/ops/dead-letters/replay",
  operationId: "replayDeadLetters",
  tags,
  summary: "Send dead letters back to the receipts queue (200 a call; `more` says there are others)",
  security: security.operator,
  middleware: [requireOperator] as const,
  responses: {
    200: json("Replayed", z.object({ replayed: z.number().int(), more: z.boolean() })),
    ...errors(operatorErrors),
  },
});

export const opsPageRoute = createRoute({
  method: "get",
  path: "/ops",
  operationId: "opsConsole",
  tags,
  summary: "The operator's console (the token is typed into the page and kept in its session only)",
  security: security.public,
  responses: { 200: htmlResponse("The console") },
});
