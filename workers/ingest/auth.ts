import type { MiddlewareHandler } from "hono";
import { type ApiError, unauthorized } from "../../api/errors.ts";
import { MAX_SHARDS } from "../../core/code.ts";
import { config } from "../../core/config.ts";
import { bearerToken, hashSecret, parseTerminalToken } from "../../core/credentials.ts";
import { assertCodeKey } from "../config-check.ts";
import type { AppEnv } from "../http.ts";
import { shard } from "../shards.ts";

/** What a terminal hears when the shard refuses its token. */
export function credentialsRefused(kind: "unknown_terminal" | "revoked" | "tenant_disabled"): ApiError {
  switch (kind) {
    case "unknown_terminal":
      return unauthorized("Unknown terminal token.");
    case "revoked":
      return unauthorized("This terminal has been revoked.");
    case "tenant_disabled":
      return unauthorized("This terminal's tenant is disabled.");
  }
}

/** Refusals of the request itself (body, media type, size): credentials are judged before them. */
const REQUEST_REFUSALS = new Set([400, 413, 415]);

/**
 * A terminal token, checked before the body is read: its keyed tag in the
 * Worker (a forgery wakes no shard), its hash later in the shard that owns it.
 * A request refused for its body asks the shard first, so a revoked or
 * disabled terminal hears 401 whatever it sent (only on that error path).
 */
export const terminalAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  await assertCodeKey(c.env);
  const token = bearerToken(c.req.header("authorization"));
  const parsed = token
    ? parseTerminalToken(c.env.CODE_KEY, token, { legacy: config(c.env).LEGACY_CREDENTIALS === "on" })
    : null;
  if (!token || !parsed || parsed.shard >= MAX_SHARDS)
    throw unauthorized("Send a terminal token: Authorization: Bearer tpt_…");
  const terminal = { shard: parsed.shard, tokenHash: hashSecret(token) };
  c.set("terminal", terminal);
  await next();
  if (!REQUEST_REFUSALS.has(c.res.status)) return;
  const verdict = await shard(c.env, terminal.shard)
    .authenticate(terminal.tokenHash)
    .catch(() => "ok" as const); // the shard away: the request's own error stands
  if (verdict !== "ok") throw credentialsRefused(verdict);
};
