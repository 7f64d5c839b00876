/**
 * Secrets the Worker cannot run safely without, checked once per isolate: a
 * missing or short CODE_KEY would issue codes anyone can forge, and a bad
 * LOG_SIGNING_KEY leaves the log unsigned. Routes that need them answer 503
 * naming the variable; /healthz reports each.
 */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../core/errors.ts";
import { signersFor } from "../durable-objects/config.ts";
import type { Env } from "./env.ts";
import type { AppEnv } from "./http.ts";

export const MIN_CODE_KEY_LENGTH = 12;

export type SecretChecks = { codeKey: string; logKey: string };

const seen = new Map<string, Promise<SecretChecks>>();

export function checkSecrets(env: Pick<Env, "CODE_KEY" | "LOG_SIGNING_KEY">): Promise<SecretChecks> {
  const id = `${env.CODE_KEY?.length ?? -1}:${env.LOG_SIGNING_KEY ?? ""}`;
  let result = seen.get(id);
  if (!result) {
    result = (async () => {
      const codeKey =
        (env.CODE_KEY ?? "").length >= MIN_CODE_KEY_LENGTH
          ? "ok"
          : `CODE_KEY is missing or shorter than ${MIN_CODE_KEY_LENGTH} characters`;
      const logKey = await signersFor(env.LOG_SIGNING_KEY).then(
        (s) => (s.length ? "ok" : "LOG_SIGNING_KEY is not set: no checkpoints are signed"),
        (e: Error) => `LOG_SIGNING_KEY is invalid: ${e.message}`,
      );
      if (codeKey !== "ok" || logKey !== "ok") console.error(JSON.stringify({ msg: "configuration", codeKey, logKey }));
      return { codeKey, logKey };
    })();
    seen.set(id, result);
  }
  return result;
}

/** For routes that issue or check codes: refuse (503, naming the variable) rather than run without a sound CODE_KEY. */
export const requireCodeKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { codeKey } = await checkSecrets(c.env);
  if (codeKey !== "ok") throw new ApiError(503, "misconfigured", `${codeKey}.`, { retryAfter: 60 });
  await next();
};
