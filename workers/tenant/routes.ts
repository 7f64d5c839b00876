/** Operator and tenant administration (contract: docs/api.md "Operator", "Tenant admin"), as OpenAPI routes. */
import { createRoute } from "@hono/zod-openapi";
import { etag } from "hono/etag";
import { z } from "zod";
import { brandingInputSchema } from "../../core/branding.ts";
import { slug } from "../../core/ids.ts";
import { requireOperator } from "../http.ts";
import { errors, json, jsonBody, security, tenantErrors } from "../openapi.ts";
import {
  apiKeySchema,
  auditPageSchema,
  brandingResponseSchema,
  createTenantSchema,
  storeResponseSchema,
  storeSchema,
  tenantCreatedSchema,
  terminalCreatedSchema,
  terminalSchema,
} from "./schemas.ts";

const tenantPath = z.object({ tenantId: slug });
const storePath = tenantPath.extend({ storeId: slug });
const operatorErrors = { 400: "Malformed JSON, schema or id", 401: "Missing or invalid operator token" } as const;
const body = <S extends z.ZodType>(schema: S, example: z.input<S>) => ({
  required: true,
  content: { "application/json": { schema, example } },
});

export const createTenantRoute = createRoute({
  method: "post",
  path: "/v1/tenants",
  operationId: "createTenant",
  tags: ["Operator"],
  summary: "Create a tenant; its key is shown once",
  security: security.operator,
  middleware: [requireOperator, jsonBody] as const,
  request: { body: body(createTenantSchema, { id: "acme", name: "ACME Retail" }) },
  responses: {
    201: json("Created", tenantCreatedSchema),
    ...errors({ ...operatorErrors, 409: "Id taken", 415: "Not JSON" }),
  },
});

const setDisabled = (action: "disable" | "enable") =>
  createRoute({
    method: "post",
    path: `/v1/ops/tenants/{tenantId}/${action}`,
    operationId: `${action}Tenant`,
    tags: ["Operator"],
    summary:
      action === "disable"
        ? "Disable a tenant: its keys and terminals are refused at once"
        : "Enable a disabled tenant again",
    security: security.operator,
    middleware: [requireOperator] as const,
    request: { params: tenantPath },
    responses: {
      200: json("Done", z.object({ tenant: z.object({ id: z.string(), disabled: z.boolean() }) })),
      ...errors({ ...operatorErrors, 404: "No such tenant" }),
    },
  });
export const disableTenantRoute = setDisabled("disable");
export const enableTenantRoute = setDisabled("enable");

export const resetKeyRoute = createRoute({
  method: "post",
  path: "/v1/ops/tenants/{tenantId}/key",
  operationId: "resetTenantKey",
  tags: ["Operator"],
  summary: "Issue a new tenant key for a tenant that lost its own; the old one stops at once",
  security: security.operator,
  middleware: [requireOperator] as const,
  request: { params: tenantPath },
  responses: {
    201: json("The new key, shown once", apiKeySchema),
    ...errors({ ...operatorErrors, 404: "No such tenant" }),
  },
});

export const putStoreRoute = createRoute({
  method: "put",
  path: "/v1/tenants/{tenantId}/stores/{storeId}",
  operationId: "putStore",
  tags: ["Tenant admin"],
  summary: "Create or update a store",
  security: security.tenant,
  middleware: [jsonBody] as const,
  request: { params: storePath, body: body(storeSchema, { name: "Berlin Mitte", timezone: "Europe/Berlin" }) },
  responses: {
    201: json("Created", storeResponseSchema),
    200: json("Updated", storeResponseSchema),
    ...errors({ ...tenantErrors, 415: "Not JSON" }),
  },
});

export const registerTerminalRoute = createRoute({
  method: "post",
  path: "/v1/tenants/{tenantId}/stores/{storeId}/terminals",
  operationId: "registerTerminal",
  tags: ["Tenant admin"],
  summary: "Register a terminal (v1.2: with its Ed25519 key, certified); its token is shown once",
  security: security.tenant,
  middleware: [jsonBody] as const,
  request: { params: storePath, body: body(terminalSchema, { id: "till-1", label: "Front counter" }) },
  responses: {
    201: json("Registered", terminalCreatedSchema),
    ...errors({
      ...tenantErrors,
      404: "No such store",
      409: "Id taken",
      415: "Not JSON",
      503: "A publicKey was sent but the gateway has no TERMINAL_CERT_KEY to certify it (misconfigured)",
    }),
  },
});

export const revokeTerminalRoute = createRoute({
  method: "delete",
  path: "/v1/tenants/{tenantId}/stores/{storeId}/terminals/{terminalId}",
  operationId: "revokeTerminal",
  tags: ["Tenant admin"],
  summary: "Revoke a terminal: refused from its very next request",
  security: security.tenant,
  request: { params: storePath.extend({ terminalId: slug }) },
  responses: { 204: { description: "Revoked" }, ...errors({ ...tenantErrors, 404: "No such store or terminal" }) },
});

export const rotateKeyRoute = createRoute({
  method: "post",
  path: "/v1/tenants/{tenantId}/keys",
  operationId: "rotateTenantKey",
  tags: ["Tenant admin"],
  summary: "Rotate the tenant key; the old key stops working at once",
  security: security.tenant,
  request: { params: tenantPath },
  responses: {
    201: json("The new key, shown once", apiKeySchema),
    ...errors({ ...tenantErrors, 409: "Rotated by another request meanwhile" }),
  },
});

const auditQuery = z.object({
  before: z.coerce.number().int().positive().optional().meta({ description: "The `next` of the previous page" }),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const auditRoute = createRoute({
  method: "get",
  path: "/v1/tenants/{tenantId}/audit",
  operationId: "getAudit",
  tags: ["Tenant admin"],
  summary: "The tenant's admin audit, newest first",
  security: security.tenant,
  request: { params: tenantPath, query: auditQuery },
  responses: { 200: json("A page of entries", auditPageSchema), ...errors(tenantErrors) },
});

export const operatorAuditRoute = createRoute({
  method: "get",
  path: "/v1/ops/tenants/{tenantId}/audit",
  operationId: "getTenantAudit",
  tags: ["Operator"],
  summary: "Any tenant's admin audit, newest first",
  security: security.operator,
  middleware: [requireOperator] as const,
  request: { params: tenantPath, query: auditQuery },
  responses: { 200: json("A page of entries", auditPageSchema), ...errors(operatorErrors) },
});

export const putBrandingRoute = createRoute({
  method: "put",
  path: "/v1/tenants/{tenantId}/branding",
  operationId: "putBranding",
  tags: ["Branding"],
  summary: "Set the tenant's branding (replaces it whole)",
  security: security.tenant,
  middleware: [jsonBody] as const,
  request: {
    params: tenantPath,
    body: body(brandingInputSchema, {
      displayName: "ACME Coffee",
      primaryColor: "#0a7cff",
      receiptFooter: "Thank you!",
    }),
  },
  responses: {
    200: json("Saved", brandingResponseSchema),
    ...errors({ ...tenantErrors, 415: "Not JSON" }),
  },
});

export const getBrandingRoute = createRoute({
  method: "get",
  path: "/v1/tenants/{tenantId}/branding",
  operationId: "getBranding",
  tags: ["Branding"],
  summary: "The tenant's branding (defaults until set)",
  security: security.tenant,
  request: { params: tenantPath },
  responses: { 200: json("Branding", brandingResponseSchema), ...errors(tenantErrors) },
});

export const publicBrandingRoute = createRoute({
  method: "get",
  path: "/v1/branding/{tenantId}",
  operationId: "getPublicBranding",
  tags: ["Branding"],
  summary: "A tenant's branding, for receipt pages and apps (cacheable; If-None-Match → 304)",
  security: security.public,
  middleware: [etag({ generateDigest: (b) => crypto.subtle.digest("SHA-256", b) })] as const,
  request: { params: tenantPath },
  responses: {
    200: json("Branding", brandingResponseSchema),
    304: { description: "Not modified" },
    ...errors({ 400: "Bad id", 404: "No such tenant", 429: "Past PUBLIC_RPS for this address; see Retry-After" }),
  },
});
