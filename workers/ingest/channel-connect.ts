/**
 * GET /v1/terminals/channel: a terminal opens its WebSocket to its shard
 * (contract: docs/api.md "Terminal channel"). The Worker is on the path once,
 * here: it checks the token's form, then hands the upgrade to the shard, which
 * checks the token's hash and accepts the socket with the Hibernation API.
 * Every receipt after that is a message to the shard (channel.ts).
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { ApiError } from "../../api/errors.ts";
import { CHANNEL_SESSION_HEADER, type ChannelSession } from "../../core/channel.ts";
import { type Ctx, publicBaseUrl } from "../http.ts";
import { errors, security } from "../openapi.ts";
import { callShard, shard } from "../shards.ts";
import { credentialsRefused, terminalAuth } from "./auth.ts";

export const channelRoute = createRoute({
  method: "get",
  path: "/v1/terminals/channel",
  operationId: "openTerminalChannel",
  tags: ["Ingest"],
  summary: "Open the terminal channel: a WebSocket to the terminal's shard (v1.2)",
  description:
    'Send `Upgrade: websocket` with the terminal token. Receipts then travel as JSON messages with the same bodies, Idempotency-Key semantics, statuses and error bodies as POST /v1/receipts and /v1/receipts/batch; see docs/api.md "Terminal channel" for the message shapes, close codes and backpressure. One socket per terminal: a new one closes the old (4009).',
  security: security.terminal,
  middleware: [terminalAuth] as const,
  responses: {
    101: { description: "Switching protocols: the channel is open" },
    ...errors({
      401: "Missing, invalid or revoked terminal token",
      426: "Not a WebSocket upgrade (send Upgrade: websocket)",
      503: "The shard cannot take the socket now; retry after Retry-After (or use HTTP)",
    }),
  },
});

export async function connectChannel(c: Ctx): Promise<Response> {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError(426, "upgrade_required", "Open the terminal channel as a WebSocket (Upgrade: websocket).");
  }
  const creds = c.get("terminal");
  if (!creds) throw new Error("terminalAuth did not run");
  const session: ChannelSession = {
    shard: creds.shard,
    tokenHash: creds.tokenHash,
    baseUrl: publicBaseUrl(c),
    origin: new URL(c.req.url).origin,
  };
  const headers = new Headers(c.req.raw.headers);
  headers.delete("authorization"); // the shard needs the token's hash, never the token
  headers.set(CHANNEL_SESSION_HEADER, JSON.stringify(session));
  const res = await callShard(creds.shard, () =>
    shard(c.env, creds.shard).fetch(new Request(c.req.url, { method: "GET", headers })),
  );
  if (res.status === 101) return res;
  const refused = z
    .object({ refused: z.enum(["unknown_terminal", "revoked", "tenant_disabled"]) })
    .safeParse(await res.json().catch(() => null));
  if (refused.success) throw credentialsRefused(refused.data.refused);
  throw new ApiError(503, "unavailable", "The terminal channel cannot be opened now; retry, or use HTTP.", {
    retryAfter: 2,
  });
}
