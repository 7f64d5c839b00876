/** The archive's operator routes (contract: docs/api.md "Archive"), as OpenAPI routes. */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { daySchema } from "../../core/archive.ts";
import { requireOperator } from "../http.ts";
import { errors, json, security } from "../openapi.ts";

const dayReport = {
  day: z.string(),
  state: z.enum(["absent", "held", "writing", "verified", "dropped", "failed"]),
  rows: z.number().int(),
  objects: z.number().int(),
  written: z.number().int(),
  dropped: z.number().int(),
  detail: z.string().nullable(),
};

export const archiveReportSchema = z.object({
  ...dayReport,
  databases: z
    .array(z.object({ database: z.string(), ...dayReport }))
    .optional()
    .meta({
      description: "With several receipts databases (DATABASE_URLS): each one's report; the fields above add them up",
    }),
});

export const archiveDayRoute = createRoute({
  method: "post",
  path: "/v1/ops/archive/{day}",
  operationId: "archiveDay",
  tags: ["Operations"],
  summary: "Archive one day to R2 and drop its partition once the archive checks (idempotent; call again to resume)",
  security: security.operator,
  middleware: [requireOperator] as const,
  request: { params: z.object({ day: daySchema }) },
  responses: {
    200: json("Where the day stands (state `writing`: call again)", archiveReportSchema),
    ...errors({ 401: "Missing or invalid operator token", 409: "The day is younger than HOT_DAYS" }),
  },
});

export const archiveObjectRoute = createRoute({
  method: "get",
  path: "/v1/ops/archive/object",
  operationId: "getArchiveObject",
  tags: ["Operations"],
  summary: "One archived Parquet object, as R2 holds it (what `npm run audit` checks archived receipts from)",
  security: security.operator,
  middleware: [requireOperator] as const,
  request: {
    query: z.object({
      key: z
        .string()
        .max(200)
        .regex(/^archive\/v1\/(?!.*\.\.)[A-Za-z0-9=/._-]+$/, "an archive object's key (archive/v1/…)")
        .meta({ example: "archive/v1/day=2026-12-01/shard=00042/part=000.parquet" }),
    }),
  },
  responses: {
    200: {
      description: "The object's bytes (Parquet; its SHA-256 is in the day's manifest and in archive_objects)",
      content: { "application/vnd.apache.parquet": { schema: z.string().meta({ format: "binary" }) } },
    },
    206: {
      description: "The bytes a `Range: bytes=a-b` header asked for, with Content-Range",
      content: { "application/vnd.apache.parquet": { schema: z.string().meta({ format: "binary" }) } },
    },
    ...errors({
      400: "Not an archive object's key",
      401: "Missing or invalid operator token",
      404: "No such object in R2",
    }),
  },
});
