import type { MiddlewareHandler } from "hono";
import { MAX_SHARDS } from "../../core/code.ts";
import { config } from "../../core/config.ts";
import { bearerToken, hashSecret, parseTerminalToken } from "../../core/credentials.ts";
import { unauthorized } from "../../core/errors.ts";
import { assertCodeKey } from "../config-check.ts";
import type { AppEnv } from "../http.ts";

/**
 * A terminal token, checked before the body is read: its keyed tag in the
 * Worker (a forgery wakes no shard), its hash later in the shard that owns it.
 */
export const terminalAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  await assertCodeKey(c.env);
  const token = bearerToken(c.req.header("authorization"));
  const parsed = token
    ? parseTerminalToken(c.env.CODE_KEY, token, { legacy: config(c.env).LEGACY_CREDENTIALS === "on" })
    : null;
  if (!token || !parsed || parsed.shard >= MAX_SHARDS)
    throw unauthorized("Send a terminal token: Authorization: Bearer tpt_…");
  c.set("terminal", { shard: parsed.shard, tokenHash: hashSecret(token) });
  await next();
};
