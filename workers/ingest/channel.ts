/**
 * The terminal channel's messages (contract: docs/api.md "Terminal channel"),
 * answered inside the terminal's shard with no Worker request and no RPC: the
 * same issuing as HTTP (issuing.ts), so a receipt gets the same status and
 * body either way, and an Idempotency-Key means the same on both.
 *
 *   → {"id":"7","type":"receipt","idempotencyKey":"till-1-000042","receipt":{…}}
 *   → {"id":"8","type":"batch","receipts":[{…,"idempotencyKey":"…"}]}
 *   ← {"id":"7","status":201,"body":{…the IssuedReceipt…}}
 */
import { z } from "zod";
import { ApiError, apiErrorOf, type ErrorBody, validationFailed } from "../../api/errors.ts";
import { type ChannelSession, CLOSE } from "../../core/channel.ts";
import { idempotencyKeySchema, parseReceipt, zodProblems } from "../../core/receipt.ts";
import { lazyPools, type Pools } from "../../db/client.ts";
import type { IssueReply, IssueRequest } from "../../durable-objects/issuer.ts";
import { describeError } from "../../kit/describe-error.ts";
import type { Env } from "../env.ts";
import { KiB } from "../http.ts";
import { logger } from "../request-context.ts";
import { backlogOf } from "./backlog.ts";
import { type IssueVia, issueBatch, issueOne } from "./issuing.ts";
import { batchSchema } from "./schemas.ts";

/** Messages a socket may have unanswered at once; beyond, each is answered 429 at once. */
export const MAX_IN_FLIGHT = 32;
/** A message's largest size: a batch's body limit over HTTP (a single receipt's is 256 KiB, as over HTTP). */
const MAX_MESSAGE_BYTES = 2048 * KiB;
const MAX_RECEIPT_BYTES = 256 * KiB;

const messageId = z.string().min(1).max(64);
const common = { id: messageId, offlineBacklog: z.string().max(200).optional() };
const messageSchema = z.discriminatedUnion("type", [
  z.strictObject({ ...common, type: z.literal("receipt"), idempotencyKey: z.unknown(), receipt: z.unknown() }),
  z.strictObject({ ...common, type: z.literal("batch"), receipts: z.unknown() }),
]);

export type ChannelMessage = z.infer<typeof messageSchema>;
/** `retryAfter` (seconds): what HTTP sends as the Retry-After header, for 429 and 503. */
export type ChannelReply = { id: string | null; status: number; body: unknown; retryAfter?: number };

export type ChannelCall = {
  env: Env;
  session: ChannelSession;
  message: string | ArrayBuffer;
  inFlight: number;
  /** This shard's own issuing (the socket is on the terminal's shard). */
  issue: (req: IssueRequest) => Promise<IssueReply>;
};

/** One message's identity: its id once known (so even a refused message is matched), and its request id for the logs. */
type Asked = { id: string | null; requestId: string };

const errorReply = (asked: Asked, e: ApiError): ChannelReply => {
  const body: ErrorBody = e.toBody();
  return {
    id: asked.id,
    status: e.status,
    body: { error: { ...body.error, requestId: asked.requestId } },
    ...(e.retryAfter === undefined ? {} : { retryAfter: e.retryAfter }),
  };
};

/** A string's UTF-8 size, without copying it when its length alone settles the question (at most 3 bytes a unit). */
const overLimit = (message: string | ArrayBuffer, limit: number) =>
  typeof message === "string"
    ? message.length > limit || (message.length * 3 > limit && new TextEncoder().encode(message).byteLength > limit)
    : message.byteLength > limit;

async function reply(call: ChannelCall, asked: Asked, pg: Pools): Promise<ChannelReply> {
  const { message } = call;
  if (overLimit(message, MAX_MESSAGE_BYTES)) {
    return errorReply(
      asked,
      new ApiError(413, "payload_too_large", `A message is at most ${MAX_MESSAGE_BYTES / KiB} KiB.`),
    );
  }
  if (typeof message !== "string") {
    return errorReply(asked, new ApiError(415, "unsupported_media_type", "Send messages as JSON text frames."));
  }
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return errorReply(
      asked,
      validationFailed([{ path: "", message: "is not JSON" }], "The message is not valid JSON."),
    );
  }
  const id = messageId.safeParse((json as { id?: unknown } | null)?.id);
  if (id.success) asked.id = id.data;
  const parsed = messageSchema.safeParse(json);
  if (!parsed.success)
    return errorReply(asked, validationFailed(zodProblems(parsed.error), "The message is not valid."));
  const m = parsed.data;
  if (call.inFlight > MAX_IN_FLIGHT) {
    return errorReply(
      asked,
      new ApiError(429, "rate_limited", `At most ${MAX_IN_FLIGHT} messages may wait for their answer on one socket.`, {
        retryAfter: 1,
      }),
    );
  }
  const { session, env } = call;
  const via: IssueVia = {
    env,
    baseUrl: session.baseUrl,
    origin: session.origin,
    backlog: backlogOf(m.offlineBacklog),
    issue: (entries, backlog) =>
      call.issue({ shard: session.shard, tokenHash: session.tokenHash, entries, ...(backlog ? { backlog } : {}) }),
    pg: pg.at,
  };
  if (m.type === "batch") {
    const batch = batchSchema.safeParse({ receipts: m.receipts });
    if (!batch.success) throw validationFailed(zodProblems(batch.error));
    return { id: m.id, status: 200, body: await issueBatch(via, batch.data.receipts, Date.now()) };
  }
  if (overLimit(message, MAX_RECEIPT_BYTES + KiB)) {
    throw new ApiError(413, "payload_too_large", `The body is larger than ${MAX_RECEIPT_BYTES / KiB} KiB.`);
  }
  const key = idempotencyKeySchema.safeParse(m.idempotencyKey);
  if (!key.success) {
    throw new ApiError(400, "invalid_idempotency_key", "The idempotencyKey is 1–64 characters [A-Za-z0-9_-].", {
      details: zodProblems(key.error).map((d) => ({ ...d, path: "idempotencyKey" })),
    });
  }
  const raw = m.receipt;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw validationFailed([{ path: "receipt", message: "must be an object" }]);
  }
  const { status, body } = await issueOne(via, key.data, raw as Record<string, unknown>, parseReceipt(raw, Date.now()));
  return { id: m.id, status, body };
}

/**
 * One message's answer. A refused terminal hears 401 and its socket is
 * closed (4001); a failure of ours is a 503 to retry with the same key.
 */
export async function answerChannel(
  call: ChannelCall,
): Promise<{ reply: string; close?: { code: number; reason: string } }> {
  // Opened only for a replay older than the shard's ring.
  const pg = lazyPools(call.env);
  const asked: Asked = { id: null, requestId: crypto.randomUUID() };
  let out: ChannelReply;
  try {
    out = await reply(call, asked, pg);
  } catch (e) {
    const refused = apiErrorOf(e);
    if (!refused) {
      logger.error({ msg: "channel: message failed", requestId: asked.requestId, error: describeError(e) });
    }
    out = errorReply(
      asked,
      refused ??
        new ApiError(503, "unavailable", "The receipt service is busy; retry with the same Idempotency-Key.", {
          retryAfter: 2,
        }),
    );
  } finally {
    await pg.end().catch(() => {});
  }
  return {
    reply: JSON.stringify(out),
    ...(out.status === 401
      ? { close: { code: CLOSE.unauthorized, reason: "this terminal's token is not accepted" } }
      : {}),
  };
}
