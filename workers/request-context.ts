/**
 * Every request's id: the client's own `x-request-id` when it is 1–64
 * characters of [A-Za-z0-9_-], otherwise a new one. It is echoed on every
 * response, repeated in error bodies (`error.requestId`), and carried by every
 * log line written while the request runs (an AsyncLocalStorage, so deep code
 * need not pass it along).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { MiddlewareHandler } from "hono";
import { consoleLogger } from "../kit/logger.ts";

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

/** The Worker's logger: every line carries the id of the request it was written for, if any. */
export const logger = consoleLogger(() => {
  const requestId = currentRequestId();
  return requestId ? { requestId } : undefined;
});
