/** Retail analytics (contract: docs/api.md "Retail analytics"), as OpenAPI routes. */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { dailyExportQuery, dateRange, itemsQuery, salesQuery } from "../../core/analytics.ts";
import { slug } from "../../core/ids.ts";
import { requireOperator } from "../http.ts";
import { errors, htmlResponse, json, security, tenantErrors, textResponse } from "../openapi.ts";
import { salesSeriesSchema, tenantTotalsSchema, topItemsSchema } from "./schemas.ts";

const tags = ["Analytics"];
const tenantPath = z.object({ tenantId: slug });

export const salesRoute = createRoute({
  method: "get",
  path: "/v1/tenants/{tenantId}/analytics/sales",
  operationId: "getSales",
  tags,
  summary: "Sales by store-local day or UTC hour, per store and currency",
  security: security.tenant,
  request: { params: tenantPath, query: salesQuery },
  responses: { 200: json("The series; empty buckets left out", salesSeriesSchema), ...errors(tenantErrors) },
});

export const itemsRoute = createRoute({
  method: "get",
  path: "/v1/tenants/{tenantId}/analytics/items",
  operationId: "getTopItems",
  tags,
  summary: "The items with the most revenue",
  security: security.tenant,
  request: { params: tenantPath, query: itemsQuery },
  responses: { 200: json("By revenue, highest first", topItemsSchema), ...errors(tenantErrors) },
});

export const dailyCsvRoute = createRoute({
  method: "get",
  path: "/v1/tenants/{tenantId}/exports/daily.csv",
  operationId: "getDailyCsv",
  tags,
  summary: "One day's sales per store, currency and tax rate, for bookkeeping",
  security: security.tenant,
  request: { params: tenantPath, query: dailyExportQuery },
  responses: {
    200: textResponse("store_id,date,currency,tax_rate,receipts,gross,net,tax", "text/csv"),
    ...errors(tenantErrors),
  },
});

export const tenantTotalsRoute = createRoute({
  method: "get",
  path: "/v1/ops/analytics/tenants",
  operationId: "getTenantTotals",
  tags,
  summary: "Receipts and gross per tenant and currency (operator's fiscal view)",
  security: security.operator,
  middleware: [requireOperator] as const,
  request: { query: dateRange },
  responses: {
    200: json("Per tenant and currency", tenantTotalsSchema),
    ...errors({ 400: "Bad range", 401: "Missing or invalid operator token" }),
  },
});

export const dashboardPageRoute = createRoute({
  method: "get",
  path: "/dashboard",
  operationId: "analyticsDashboard",
  tags: ["Analytics"],
  summary: "The tenant's sales dashboard (its key is typed into the page and kept in its session only)",
  security: security.public,
  responses: { 200: htmlResponse("The dashboard") },
});
