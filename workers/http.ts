/**
 * What every route shares: the Hono context type, the one error handler, the
 * body limit (413), credentials, and a per-request Postgres pool. Routes and
 * their validation: openapi.ts.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { ApiError, apiErrorOf, type ErrorBody, errorBody, unauthorized } from "../api/errors.ts";
import { config } from "../core/config.ts";
import { bearerToken } from "../core/credentials.ts";
import { allDatabases, RoutesInvalid } from "../core/db-routes.ts";
import { type Db, isPostgresUnavailable, lazyPools, type Pg, type Pools, retryAfterOf } from "../db/client.ts";
import { routesOf } from "../db/routing.ts";
import { safeEqual } from "../kit/crypto.ts";
import { describeError, stackFrames } from "../kit/describe-error.ts";
import type { Env } from "./env.ts";
import { logger } from "./request-context.ts";

export type AppEnv = {
  Bindings: Env;
  /**
   * `tenantKeyHash`: the hash of the tenant key this request authenticated with (see requireTenant);
   * `requestId`: set first of all (request-context.ts);
   * `terminal`: the terminal token's shard and hash (ingest/auth.ts).
   */
  Variables: {
    pools?: Pools;
    tenantKeyHash?: string;
    requestId: string;
    terminal?: { shard: number; tokenHash: string };
  };
};
export type Ctx = Context<AppEnv>;

export const KiB = 1024;

/** This request's Postgres pools, each opened on first use and all ended after the response. */
function pools(c: Ctx): Pools {
  let handle = c.get("pools");
  if (!handle) {
    handle = lazyPools(c.env);
    c.set("pools", handle);
  }
  return handle;
}

/** The primary's pool of this request (the control plane; every receipt unless DATABASE_URLS routes it). */
export const pg = (c: Ctx): Pg => pools(c).at();

/** The pool of one receipts database (db/routing.ts) for this request. */
export const pgAt = (c: Ctx, database: { url: string }): Pg => pools(c).at(database);

/** Every database that holds receipts (the primary first), for reads that add up or merge across them. */
export const receiptDbs = (c: Ctx): Db[] => allDatabases(routesOf(c.env)).map((d) => pgAt(c, d).db);

export const closePg: MiddlewareHandler<AppEnv> = async (c, next) => {
  try {
    await next();
  } finally {
    const handle = c.get("pools");
    if (handle) c.executionCtx.waitUntil(handle.end());
  }
};

/** An error body with the request's id in it, so a client can quote it to the operator. */
function withId(c: Ctx, body: ErrorBody): ErrorBody {
  const requestId = c.get("requestId");
  return requestId ? { error: { ...body.error, requestId } } : body;
}

export function onError(err: Error, c: Ctx): Response {
  const known = apiErrorOf(err);
  if (known) {
    if (known.retryAfter !== undefined) c.header("Retry-After", String(known.retryAfter));
    return c.json(withId(c, known.toBody()), known.status);
  }
  if (err instanceof HTTPException && err.status === 415) {
    return c.json(withId(c, errorBody("unsupported_media_type", "Send the body as application/json.")), 415);
  }
  if (err instanceof HTTPException && err.status < 500) {
    return c.json(withId(c, errorBody("bad_request", err.message || "Bad request.")), err.status);
  }
  if (err instanceof RoutesInvalid) {
    logger.error({ msg: "configuration", databaseUrls: err.message });
    c.header("Retry-After", "60");
    return c.json(
      withId(
        c,
        errorBody("misconfigured", "The receipt service is not configured correctly; its operator is alerted."),
      ),
      503,
    );
  }
  // Postgres down (or the breaker open) is not our bug to report as 500: the client may retry.
  if (isPostgresUnavailable(err)) {
    logger.error({ msg: "postgres unavailable", path: c.req.path, error: describeError(err) });
    c.header("Retry-After", String(retryAfterOf(err)));
    return c.json(withId(c, errorBody("unavailable", "A dependency is unavailable; retry shortly.")), 503);
  }
  logger.error({ msg: "unhandled error", path: c.req.path, error: describeError(err), at: stackFrames(err) });
  c.header("Retry-After", "5");
  return c.json(withId(c, errorBody("internal_error", "Something went wrong on our side. Please retry.")), 500);
}

export function notFoundHandler(c: Ctx): Response {
  return c.json(withId(c, errorBody("not_found", `No route for ${c.req.method} ${c.req.path}.`)), 404);
}

/** 413 past `maxBytes`, whether or not the client sent Content-Length. */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(413, "payload_too_large", `The body is larger than ${maxBytes / KiB} KiB.`);
    },
  });
}

/** Validates a path parameter (ids are slugs). */
export function param<S extends z.ZodType>(c: Ctx, name: string, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.param(name));
  if (!parsed.success) {
    throw new ApiError(400, "invalid_id", `The ${name} in the path is not a valid id.`, {
      details: [{ path: name, message: parsed.error.issues[0]?.message ?? "invalid" }],
    });
  }
  return parsed.data;
}

export const requireOperator: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearerToken(c.req.header("authorization"));
  if (!token || !c.env.OPERATOR_TOKEN || !safeEqual(token, c.env.OPERATOR_TOKEN)) throw unauthorized();
  await next();
};

/** Where printed verify links point. */
export function publicBaseUrl(c: Ctx): string {
  return (config(c.env).PUBLIC_BASE_URL || new URL(c.req.url).origin).replace(/\/+$/, "");
}

/**
 * A console page (the operator's, a tenant's, the reference): nothing is
 * allowed but the page's own `sources` (its scripts, styles, calls), it may
 * not be framed, leaks no referrer, and is never cached (it is static, but the
 * credentials typed into it are not).
 */
export function consolePage(c: Ctx, html: string, sources: readonly string[]): Response {
  const csp = ["default-src 'none'", ...sources, "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"];
  c.header("Content-Security-Policy", csp.join("; "));
  c.header("X-Frame-Options", "DENY");
  c.header("Referrer-Policy", "no-referrer");
  c.header("Cache-Control", "no-store");
  return c.html(html);
}
