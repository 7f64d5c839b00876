/**
 * The OpenAPI 3.1 document, generated from the same zod schemas the routes
 * validate with (zod's JSON Schema output is OpenAPI 3.1's dialect).
 */
import { z } from "zod";
import { brandingInputSchema } from "../../core/branding.ts";
import { slug } from "../../core/ids.ts";
import { idempotencyKeySchema, receiptInputSchema } from "../../core/receipt.ts";
import * as res from "../../core/responses.ts";
import { batchSchema } from "../ingest/schemas.ts";
import { consistencySchema, inclusionSchema } from "../log/schemas.ts";
import { createTenantSchema, storeSchema, terminalSchema } from "../tenant/schemas.ts";

type Auth = "operator" | "tenant" | "terminal";
type Reply = { description: string; schema?: z.ZodType; html?: true; text?: true; binary?: true };
type Operation = {
  method: "get" | "post" | "put" | "delete";
  path: string;
  summary: string;
  auth?: Auth;
  body?: z.ZodType;
  idempotencyKey?: true;
  responses: Record<number, Reply>;
};

const err = (description: string): Reply => ({ description, schema: res.errorBodySchema });
const common = { 400: err("Malformed JSON, schema or id"), 401: err("Missing or invalid credentials") };
const tenantErrors = { ...common, 403: err("Credentials of another tenant") };

const operations: Operation[] = [
  {
    method: "post",
    path: "/v1/tenants",
    summary: "Create a tenant (operator)",
    auth: "operator",
    body: createTenantSchema,
    responses: { 201: { description: "Created", schema: res.tenantCreatedSchema }, ...common, 409: err("Id taken") },
  },
  {
    method: "put",
    path: "/v1/tenants/{tenantId}/stores/{storeId}",
    summary: "Create or update a store",
    auth: "tenant",
    body: storeSchema,
    responses: {
      200: { description: "Updated", schema: res.storeResponseSchema },
      201: { description: "Created", schema: res.storeResponseSchema },
      ...tenantErrors,
    },
  },
  {
    method: "post",
    path: "/v1/tenants/{tenantId}/stores/{storeId}/terminals",
    summary: "Register a terminal; its token is shown once",
    auth: "tenant",
    body: terminalSchema,
    responses: {
      201: { description: "Registered", schema: res.terminalCreatedSchema },
      ...tenantErrors,
      404: err("Unknown store"),
      409: err("Id taken"),
    },
  },
  {
    method: "delete",
    path: "/v1/tenants/{tenantId}/stores/{storeId}/terminals/{terminalId}",
    summary: "Revoke a terminal (effective on its next request)",
    auth: "tenant",
    responses: { 204: { description: "Revoked" }, ...tenantErrors, 404: err("Unknown store or terminal") },
  },
  {
    method: "post",
    path: "/v1/tenants/{tenantId}/keys",
    summary: "Rotate the tenant key; the old key stops working at once",
    auth: "tenant",
    responses: { 201: { description: "New key", schema: res.apiKeySchema }, ...tenantErrors },
  },
  {
    method: "get",
    path: "/v1/tenants/{tenantId}/audit",
    summary: "The tenant's admin audit, newest first (?before=<id>&limit=1–500)",
    auth: "tenant",
    responses: { 200: { description: "A page of entries", schema: res.auditPageSchema }, ...tenantErrors },
  },
  {
    method: "put",
    path: "/v1/tenants/{tenantId}/branding",
    summary: "Set the tenant's branding (replaces it whole)",
    auth: "tenant",
    body: brandingInputSchema,
    responses: { 200: { description: "Saved", schema: res.brandingResponseSchema }, ...tenantErrors },
  },
  {
    method: "get",
    path: "/v1/tenants/{tenantId}/branding",
    summary: "The tenant's branding (defaults until set)",
    auth: "tenant",
    responses: { 200: { description: "Branding", schema: res.brandingResponseSchema }, ...tenantErrors },
  },
  {
    method: "get",
    path: "/v1/branding/{tenantId}",
    summary: "Public branding (cacheable, ETag / If-None-Match → 304)",
    responses: {
      200: { description: "Branding", schema: res.brandingResponseSchema },
      304: { description: "Not modified" },
      400: err("Bad id"),
      404: err("Unknown tenant"),
    },
  },
  {
    method: "post",
    path: "/v1/receipts",
    summary: "Issue a receipt code",
    auth: "terminal",
    body: receiptInputSchema,
    idempotencyKey: true,
    responses: {
      201: { description: "Issued", schema: res.issuedReceiptSchema },
      200: { description: "Idempotent replay: the identical response", schema: res.issuedReceiptSchema },
      ...common,
      409: err("Idempotency-Key reused with a different body"),
      413: err("Body over 256 KiB"),
      415: err("Not JSON"),
      503: err("Temporarily unavailable; retry with the same Idempotency-Key after Retry-After"),
    },
  },
  {
    method: "post",
    path: "/v1/receipts/batch",
    summary: "Issue up to 100 receipts recorded offline; each is judged alone",
    auth: "terminal",
    body: batchSchema,
    responses: {
      200: { description: "Per-entry results in input order", schema: res.batchResultSchema },
      ...common,
      413: err("Body over 2 MiB"),
      415: err("Not JSON"),
    },
  },
  {
    method: "get",
    path: "/v1/verify/{code}",
    summary: "Verify a receipt code (public)",
    responses: {
      200: {
        description:
          "The receipt, its status (valid, tampered, or missing when the log has it and no store does) and its inclusion proof",
        schema: res.verifyAnswerSchema,
      },
      400: err("Not a valid code (checked without a lookup)"),
      404: err("No such receipt"),
    },
  },
  {
    method: "get",
    path: "/r/{code}",
    summary: "The receipt page for a phone (public, HTML)",
    responses: {
      200: { description: "Page", html: true },
      400: { description: "Invalid code page", html: true },
      404: { description: "Not found page", html: true },
    },
  },
  {
    method: "get",
    path: "/v1/log/key",
    summary: "The log's verifier key, in signed-note form (public, text)",
    responses: { 200: { description: "<name>+<key id>+<base64 key>", text: true }, 503: err("No key configured") },
  },
  {
    method: "get",
    path: "/v1/log/{shard}/checkpoint",
    summary: "The shard's latest signed C2SP checkpoint (public, text)",
    responses: {
      200: { description: "Signed note", text: true },
      400: err("Bad shard"),
      404: err("Nothing signed yet"),
    },
  },
  {
    method: "get",
    path: "/v1/log/{shard}/proof/inclusion",
    summary: "RFC 6962 inclusion proof of leaf `index` in the tree of `size` (public; query: index, size)",
    responses: {
      200: { description: "Audit path, leaf side first", schema: inclusionSchema },
      400: err("size past the latest checkpoint, index ≥ size, or malformed"),
      404: err("Nothing signed yet"),
    },
  },
  {
    method: "get",
    path: "/v1/log/{shard}/proof/consistency",
    summary: "RFC 6962 consistency proof between tree sizes `from` and `to` (public; query: from, to)",
    responses: {
      200: { description: "Consistency proof", schema: consistencySchema },
      400: err("to past the latest checkpoint, from > to, from = 0, or malformed"),
      404: err("Nothing signed yet"),
    },
  },
  {
    method: "get",
    path: "/v1/log/{shard}/tile/{level}/{index}",
    summary: "A C2SP tlog-tiles hash tile; {index} is the tile path (x001/234, optionally .p/<width>)",
    responses: {
      200: { description: "width × 32 bytes of hashes", binary: true },
      400: err("Malformed tile path"),
      404: err("Past the latest checkpoint"),
    },
  },
  {
    method: "get",
    path: "/v1/ops/pipeline",
    summary: "Per shard: issued, enqueued, persisted, oldest unpersisted age (operator)",
    auth: "operator",
    responses: { 200: { description: "Progress", schema: res.pipelineSchema }, 401: common[401] },
  },
  {
    method: "get",
    path: "/healthz",
    summary: "A round trip to Postgres",
    responses: {
      200: { description: "Healthy", schema: res.healthSchema },
      503: { description: "What failed", schema: res.healthSchema },
    },
  },
];

const jsonSchema = (s: z.ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" });

const pathParams = (path: string) =>
  [...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: "path",
    required: true,
    schema:
      name === "code"
        ? {
            type: "string",
            description:
              "20 Crockford base32 characters (16 on receipts issued before v1.1), any case, dashes optional",
          }
        : name === "shard" || name === "level"
          ? { type: "integer", minimum: 0 }
          : name === "index"
            ? { type: "string", description: "C2SP tile index path" }
            : jsonSchema(slug),
  }));

function build(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const parameters = [
      ...pathParams(op.path),
      ...(op.idempotencyKey
        ? [{ name: "Idempotency-Key", in: "header", required: true, schema: jsonSchema(idempotencyKeySchema) }]
        : []),
    ];
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      summary: op.summary,
      ...(op.auth ? { security: [{ [op.auth]: [] }] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(op.body) } } } }
        : {}),
      responses: Object.fromEntries(
        Object.entries(op.responses).map(([status, r]) => [
          status,
          {
            description: r.description,
            ...(r.schema ? { content: { "application/json": { schema: jsonSchema(r.schema) } } } : {}),
            ...(r.html ? { content: { "text/html": { schema: { type: "string" } } } } : {}),
            ...(r.text ? { content: { "text/plain": { schema: { type: "string" } } } } : {}),
            ...(r.binary
              ? { content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } }
              : {}),
          },
        ]),
      ),
    };
  }
  const bearer = (description: string) => ({ type: "http", scheme: "bearer", description });
  return {
    openapi: "3.1.0",
    info: {
      title: "Tillproof API",
      version: "1",
      description: "Receipt registration gateway. Every error body is { error: { code, message, details? } }.",
    },
    paths,
    components: {
      securitySchemes: {
        operator: bearer("The platform operator's OPERATOR_TOKEN"),
        tenant: bearer("A tenant key, tpk_<tenantId>_…"),
        terminal: bearer("A terminal token, tpt_<shard>_…"),
      },
    },
  };
}

let cached: Record<string, unknown> | null = null;

export function openApiDocument(): Record<string, unknown> {
  cached ??= build();
  return cached;
}
