/**
 * Per-client-IP rate limit on the public reads (contract v1.1): past
 * PUBLIC_RPS a second (default 20, burst twice that) they answer 429 with
 * Retry-After. Two layers: a token bucket in this isolate, which applies
 * PUBLIC_RPS exactly, and Cloudflare's rate-limiting binding, which counts
 * across the isolates of a location (its limit is fixed in wrangler.toml:
 * 200 per 10 s, i.e. 20/s). PUBLIC_RPS=0 turns both off (benchmarks, tests).
 */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../api/errors.ts";
import { config } from "../core/config.ts";
import { bearerToken } from "../core/credentials.ts";
import { safeEqual } from "../kit/crypto.ts";
import { type Bucket, clientKey, takeTokens } from "../kit/rate-limit.ts";
import type { AppEnv } from "./http.ts";

const MAX_TRACKED = 10_000; // client buckets kept per isolate (oldest dropped first)
const buckets = new Map<string, Bucket>();

/** The operator's own tools (the audit) read the log in bulk. */
function isOperator(header: string | undefined, operatorToken: string | undefined): boolean {
  const token = bearerToken(header);
  return !!token && !!operatorToken && safeEqual(token, operatorToken);
}

const tooMany = (retryAfter: number) =>
  new ApiError(429, "rate_limited", "Too many requests from this address; slow down.", { retryAfter });

export const publicReadLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const rps = config(c.env).PUBLIC_RPS;
  // The operator's audit reads the whole log; only there does its token lift the limit.
  const operatorLogRead =
    c.req.path.startsWith("/v1/log/") && isOperator(c.req.header("authorization"), c.env.OPERATOR_TOKEN);
  // The lottery's operator calls (create, run, winners) are not public reads.
  const operatorLottery =
    c.req.path.startsWith("/v1/lottery/") &&
    (c.req.method === "POST" || c.req.path.endsWith("/winners")) &&
    isOperator(c.req.header("authorization"), c.env.OPERATOR_TOKEN);
  if (rps === 0 || c.req.method === "OPTIONS" || operatorLogRead || operatorLottery) return next();
  const client = clientKey(c.req.header("cf-connecting-ip"));
  const taken = takeTokens(buckets.get(client), Date.now(), { rate: rps, burst: rps * 2 });
  buckets.delete(client); // re-inserted last: the map stays in least-recently-seen order
  buckets.set(client, taken.bucket);
  if (buckets.size > MAX_TRACKED) buckets.delete(buckets.keys().next().value as string);
  if (!taken.ok) throw tooMany(taken.retryAfterSeconds);
  if (c.env.PUBLIC_READS && !(await c.env.PUBLIC_READS.limit({ key: client })).success) throw tooMany(10);
  await next();
};
