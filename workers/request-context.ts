/**
 * Every request's id: the client's own `x-request-id` when it is 1–64
 * characters of [A-Za-z0-9_-], otherwise a new one. It is echoed on every
 * response, repeated in error bodies (`error.requestId`), and carried by every
 * log line written while the request runs (an AsyncLocalStorage, so deep code
 * need not pass it along).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { MiddlewareHandler } from "hono";

const VALID = /^[A-Za-z0-9_-]{1,64}$/;
const context = new AsyncLocalStorage<{ requestId: string }>();

export const requestContext: MiddlewareHandler<{ Variables: { requestId: string } }> = async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const requestId = incoming && VALID.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", requestId);
  c.header("x-request-id", requestId);
  await context.run({ requestId }, next);
};

/** The id of the request this code runs for, if any. */
export const currentRequestId = (): string | undefined => context.getStore()?.requestId;

type Fields = { msg: string } & Record<string, unknown>;

/** One structured JSON log line, with the request's id when there is one. */
function write(level: "error" | "warn" | "info", fields: Fields): void {
  const requestId = currentRequestId();
  const line = JSON.stringify(requestId ? { level, ...fields, requestId } : { level, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export const logError = (fields: Fields) => write("error", fields);
export const logWarn = (fields: Fields) => write("warn", fields);
export const logInfo = (fields: Fields) => write("info", fields);
