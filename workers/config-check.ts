/**
 * Secrets the Worker cannot run safely without, checked once per isolate: a
 * missing or short CODE_KEY would issue codes anyone can forge, and a bad
 * LOG_SIGNING_KEY leaves the log unsigned. Routes that need them answer 503
 * naming the variable; /healthz reports each.
 */
import { ApiError } from "../api/errors.ts";
import { type Routes, RoutesInvalid } from "../core/db-routes.ts";
import { routesOf } from "../db/routing.ts";
import { signersFor } from "../tlog/signers.ts";
import type { Env } from "./env.ts";
import { logger } from "./request-context.ts";
import { certKeys } from "./shared/cert-keys.ts";

export const MIN_CODE_KEY_LENGTH = 12;

export type SecretChecks = { codeKey: string; logKey: string; terminalCertKey: string };

const seen = new Map<string, Promise<SecretChecks>>();

export function checkSecrets(
  env: Pick<Env, "CODE_KEY" | "LOG_SIGNING_KEY" | "TERMINAL_CERT_KEY">,
): Promise<SecretChecks> {
  const id = `${env.CODE_KEY?.length ?? -1}:${env.LOG_SIGNING_KEY ?? ""}:${env.TERMINAL_CERT_KEY ?? ""}`;
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
      // Without it receipts still issue, but their answers carry no signedQr and terminals get no certificate.
      const terminalCertKey = await certKeys(env).then(
        (k) => (k ? "ok" : "TERMINAL_CERT_KEY is not set: no signed QR codes or terminal certificates"),
        (e: Error) => e.message,
      );
      if (codeKey !== "ok" || logKey !== "ok" || terminalCertKey !== "ok")
        logger.error({ msg: "configuration", codeKey, logKey, terminalCertKey });
      return { codeKey, logKey, terminalCertKey };
    })();
    seen.set(id, result);
  }
  return result;
}

/**
 * For the code paths that issue or check codes: refuse (503) rather than run
 * without a sound CODE_KEY. The public message names no setting; the log and
 * /healthz do. Called inside the handlers, so the receipt page answers with
 * its own 503 page and CORS headers still apply.
 */
export async function assertCodeKey(env: Pick<Env, "CODE_KEY" | "LOG_SIGNING_KEY">): Promise<void> {
  const { codeKey } = await checkSecrets(env);
  if (codeKey !== "ok") {
    throw new ApiError(
      503,
      "misconfigured",
      "The receipt service is not configured correctly; its operator is alerted.",
      {
        retryAfter: 60,
      },
    );
  }
}

/**
 * The routing table of receipts databases (DATABASE_URLS), for the code paths
 * that read a receipt: one that cannot be read is a 503 `misconfigured`, as
 * a bad CODE_KEY (the receipt page shows its own 503 page), never a guess.
 */
export function receiptRoutes(env: Pick<Env, "DATABASE_URL" | "DATABASE_URLS" | "SHARD_COUNT">): Routes {
  try {
    return routesOf(env);
  } catch (e) {
    if (!(e instanceof RoutesInvalid)) throw e;
    logger.error({ msg: "configuration", databaseUrls: e.message });
    throw new ApiError(
      503,
      "misconfigured",
      "The receipt service is not configured correctly; its operator is alerted.",
      {
        retryAfter: 60,
      },
    );
  }
}
