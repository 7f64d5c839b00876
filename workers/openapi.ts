/**
 * The API's routes are declared with @hono/zod-openapi's `createRoute` in each
 * feature folder (its `routes.ts`), and `/openapi.json` is generated from
 * them: what is documented is what is validated. This module is what they
 * share: the router (whose validation failures become the API's error
 * bodies), the JSON body gate, security requirements and error responses.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { ApiError, validationFailed } from "../api/errors.ts";
import { errorBodySchema } from "../api/responses.ts";
import { zodProblems } from "../core/receipt.ts";
import type { AppEnv } from "./http.ts";

/** A feature's router. A request that fails its route's schemas gets the contract's 400, never zod's raw result. */
export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      const details = zodProblems(result.error);
      if (result.target === "param") {
        const name = details[0]?.path ?? "id";
        throw new ApiError(400, "invalid_id", `The ${name} in the path is not a valid id.`, { details });
      }
      if (result.target === "query") throw validationFailed(details, "The query string is not valid.");
      if (result.target === "header") {
        const header = details[0]?.path ?? "header";
        const name = header.replace(/(^|-)([a-z])/g, (_, dash: string, ch: string) => `${dash}${ch.toUpperCase()}`);
        const message = `The ${name} header ${details[0]?.message ?? "is not valid"}.`;
        throw new ApiError(400, `invalid_${header.replaceAll("-", "_")}`, message, { details });
      }
      throw validationFailed(details);
    },
  });
}

/**
 * Route middleware for a JSON body, run before the route's schema: 415 when
 * it is not JSON, 400 when it does not parse. Hono keeps the parsed body, so
 * the schema's validator reads it without parsing it again.
 */
export const jsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  // The route's own media type check (@hono/zod-openapi) accepts exactly these; refusing the rest
  // here gives them the contract's 415 body.
  if (!/^application\/([a-z.-]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", "Send the body as application/json.");
  }
  try {
    await c.req.json();
  } catch {
    throw new ApiError(400, "invalid_json", "The body is not valid JSON.");
  }
  await next();
};

/** Security requirements, by credential (components.securitySchemes below); public operations declare none. */
export const security = {
  public: [],
  operator: [{ operator: [] }],
  tenant: [{ tenant: [] }],
  terminal: [{ terminal: [] }],
} as const satisfies Record<string, { [scheme: string]: string[] }[]>;

const errorContent = { "application/json": { schema: errorBodySchema } };

/** Error responses in the contract's body, by status. */
export function errors(described: Partial<Record<400 | 401 | 403 | 404 | 409 | 413 | 415 | 426 | 429 | 503, string>>) {
  return Object.fromEntries(
    Object.entries(described).map(([status, description]) => [status, { description, content: errorContent }]),
  );
}

/** The errors every tenant-key operation can answer with. */
export const tenantErrors = {
  400: "Malformed JSON, schema or id",
  401: "Missing or invalid tenant key",
  403: "A key of another tenant, or the tenant is disabled",
} as const;

/** A JSON response. */
export const json = <S extends z.ZodType>(description: string, schema: S, example?: z.input<S>) => ({
  description,
  content: { "application/json": { schema, ...(example === undefined ? {} : { example }) } },
});

const text = (type: string) => ({ [type]: { schema: z.string() } });
export const textResponse = (description: string, type = "text/plain") => ({ description, content: text(type) });
export const htmlResponse = (description: string) => textResponse(description, "text/html");

/** Path parameters: ids are slugs. */
export const params = <T extends z.ZodRawShape>(shape: T) => z.object(shape);

/** The document's frame: info, servers, and the three bearer credentials. */
export function documentConfig(origin: string) {
  return {
    openapi: "3.1.0",
    info: {
      title: "Tillproof API",
      version: "1.1",
      description:
        "Receipt registration gateway. Every error body is { error: { code, message, details?, requestId? } }; the contract is docs/api.md.",
    },
    servers: [{ url: origin, description: "This deployment" }],
  };
}

export function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  const bearer = (description: string) => ({ type: "http" as const, scheme: "bearer", description });
  app.openAPIRegistry.registerComponent(
    "securitySchemes",
    "operator",
    bearer("The platform operator's OPERATOR_TOKEN"),
  );
  app.openAPIRegistry.registerComponent("securitySchemes", "tenant", bearer("A tenant key, tpk_<tenantId>_…"));
  app.openAPIRegistry.registerComponent("securitySchemes", "terminal", bearer("A terminal token, tpt_<shard>_…"));
}
