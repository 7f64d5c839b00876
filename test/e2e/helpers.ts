/** What the e2e tests share: JSON calls to a running stack, and waiting for it. */
import { callStack, type Stack } from "../../scripts/lib/stack/local.ts";

/** A JSON call that must succeed (any status ≥ 300 throws, with the body): the parsed answer. */
export async function stackJson<T>(
  stack: Pick<Stack, "baseUrl">,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<T> {
  const res = await callStack(stack, method, path, token, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return JSON.parse(res.text) as T;
}

/** Polls `probe` every 200 ms until it holds, for up to `ms`. */
export async function until(probe: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out: ${what}`);
}
