/** The archive's operator route (contract: docs/api.md "Archive"), as an OpenAPI route. */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { daySchema } from "../../core/archive.ts";
import { requireOperator } from "../http.ts";
import { errors, json, security } from "../openapi.ts";

export const archiveReportSchema = z.object({
  day: z.string(),
  state: z.enum(["absent", "writing", "verified", "dropped", "failed"]),
  rows: z.number().int(),
  objects: z.number().int(),
  written: z.number().int(),
  dropped: z.number().int(),
  detail: z.string().nullable(),
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
