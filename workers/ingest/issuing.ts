/**
 * Issuing, apart from its transport: what a terminal hears for one receipt or
 * a batch, whether it came over HTTP (index.ts: the Worker asks the shard over
 * RPC) or over the terminal channel (channel.ts: inside the shard, no RPC).
 * Both give the same statuses and bodies, built here once.
 */

import { ApiError, apiErrorOf, type ErrorBody, invalidCode, validationFailed } from "../../api/errors.ts";
import type { IssuedReceipt } from "../../api/responses.ts";
import { canonicalHash } from "../../core/canonical.ts";
import { parseCode } from "../../core/code.ts";
import { config } from "../../core/config.ts";
import type { Database } from "../../core/db-routes.ts";
import { idempotencyKeySchema, issuedOf, parseReceipt, type ReceiptInput } from "../../core/receipt.ts";
import type { Pg } from "../../db/client.ts";
import { findReceiptRouted } from "../../db/routing.ts";
import type {
  IssueEntry,
  IssueOutcome,
  IssueReply,
  OriginalRef,
  RefundRefusal,
  Refusal,
} from "../../durable-objects/issuer.ts";
import type { BacklogReport } from "../../durable-objects/offline.ts";
import { describeError } from "../../kit/describe-error.ts";
import type { Env } from "../env.ts";
import { logger } from "../request-context.ts";
import { certKeys } from "../shared/cert-keys.ts";
import { markChanged } from "../shared/verify-cache.ts";
import { credentialsRefused } from "./auth.ts";
import { renderSigned } from "./render.ts";

/** What issuing needs from its transport. */
export type IssueVia = {
  env: Env;
  /** Where printed verify links point (PUBLIC_BASE_URL, or the origin the terminal called). */
  baseUrl: string;
  /** The origin whose edge cache a refund's original is marked changed in. */
  origin: string;
  backlog: BacklogReport | null;
  /** The terminal's shard issues the entries (its token hash and number are the transport's). */
  issue: (entries: IssueEntry[], backlog: BacklogReport | null) => Promise<IssueReply>;
  /** A database's Postgres handle, opened on first use (a replay older than the shard's ring). */
  pg: (database: Database) => Pg;
};

type Refused = Exclude<IssueOutcome, { kind: "issued" | "replayed" | "replayed_persisted" }>;
/** What a terminal hears for one entry: a rendered receipt, or why not. */
type Answer = { kind: "issued" | "replayed"; receipt: IssuedReceipt } | Refused | { kind: "replay_unavailable" };

/** The cert key, or null (not set, or not valid: /healthz says which) — a receipt is never refused for its QR. */
const qrKeys = (env: Env) => certKeys(env).catch(() => null);

async function issue(via: IssueVia, entries: IssueEntry[]): Promise<Answer[]> {
  const { baseUrl } = via;
  const [reply, keys] = await Promise.all([via.issue(entries, via.backlog), qrKeys(via.env)]);
  if (reply.refused) throw shardError(reply.refused);
  const answers = await Promise.all(
    reply.outcomes.map(async (o): Promise<Answer> => {
      if (o.kind === "replayed_persisted") return replayFromPostgres(via, o.code);
      if ("issued" in o) return { kind: o.kind, receipt: await renderSigned(o.issued, baseUrl, keys) };
      return o;
    }),
  );
  // A sale just refunded or voided: verify's edge cache here must not answer from before.
  const cached = config(via.env).VERIFY_EDGE_CACHE === "on";
  const originals = cached
    ? answers.flatMap((a) => (a.kind === "issued" && a.receipt.refersTo ? [a.receipt.refersTo] : []))
    : [];
  await Promise.all(
    originals.map((code) =>
      markChanged(via.origin, code).catch((e: unknown) =>
        logger.error({ msg: "ingest: marking the original changed failed", error: describeError(e) }),
      ),
    ),
  );
  return answers;
}

/**
 * A retry of a key older than the shard's ring: the same body, rebuilt from
 * the record Postgres holds (the shard only hands a receipt over once
 * Postgres confirmed it).
 */
async function replayFromPostgres(via: IssueVia, code: string): Promise<Answer> {
  try {
    const row = await findReceiptRouted(via.env, code, (d) => via.pg(d).db);
    if (row)
      return {
        kind: "replayed",
        receipt: await renderSigned(issuedOf(row.record, row.hash), via.baseUrl, await qrKeys(via.env)),
      };
    logger.error({ msg: "replay: receipt not in postgres", code });
  } catch (e) {
    logger.error({ msg: "replay: postgres lookup failed", error: describeError(e) });
  }
  return { kind: "replay_unavailable" };
}

/** What the original's ledger refused, in the client's words (contract v1.2 "Refunds and voids"). */
const REFUND_MESSAGES: Record<RefundRefusal["reason"], string> = {
  original_not_found: "No receipt of yours has the code in refersTo.",
  original_not_refundable:
    "That receipt cannot be refunded: it is a refund or a void, it was voided, or it is in another currency.",
  refund_exceeds_original: "This refund gives back more than the original receipt allows.",
  void_window_closed: "The time to void that sale has passed; give a refund instead.",
  void_not_allowed:
    "That sale cannot be voided: only its own store may void it, with the identical items, total and payments, and only while nothing of it was refunded or voided.",
};

/**
 * A refund's or void's original, from `refersTo`: its shard and counter come
 * from the code itself, so the saga knows where the ledger is. A code that
 * does not check out is 400 invalid_code.
 */
function originalRef(env: Env, r: ReceiptInput): OriginalRef | undefined {
  if (r.refersTo === undefined) return undefined;
  // Longer than any spelling of a code (dashes and spaces included): not one, and not worth decoding.
  const parts = r.refersTo.length > 64 ? null : parseCode(env.CODE_KEY, r.refersTo);
  if (!parts) throw invalidCode();
  return { shard: parts.shard, counter: parts.counter, code: parts.code };
}

/**
 * One entry for the shard; refersTo resolved. An offline receipt is keyed by
 * its sequence (whatever idempotencyKey it came with), in a spelling no client
 * key can take; its signature covers the body without `offline`.
 */
function entryOf(env: Env, idempotencyKey: string, raw: Record<string, unknown>, receipt: ReceiptInput): IssueEntry {
  const refersTo = originalRef(env, receipt);
  const entry: IssueEntry = { idempotencyKey, bodyHash: bodyHash(raw), receipt, ...(refersTo ? { refersTo } : {}) };
  if (!receipt.offline) return entry;
  const { offline: _signed, ...signedBody } = raw;
  return {
    ...entry,
    idempotencyKey: `offline:${receipt.offline.terminalSeq}`,
    offline: { ...receipt.offline, signedBodyHash: bodyHash(signedBody) },
  };
}

/** The one mapping from the shard's domain words to the API's statuses (`offline`: the entry was an offline receipt). */
function shardError(e: Refusal | Exclude<Answer, { receipt: unknown }>, offline = false): ApiError {
  switch (e.kind) {
    case "offline_signature":
      return new ApiError(
        400,
        "invalid_offline_signature",
        "The offline receipt's signature does not check against this terminal's registered key (or it registered none), or its currency or total is not the one signed.",
      );
    case "replay_unavailable":
      return new ApiError(503, "unavailable", "This receipt was issued; retry shortly with the same Idempotency-Key.", {
        retryAfter: 5,
      });
    case "unknown_terminal":
    case "revoked":
    case "tenant_disabled":
      return credentialsRefused(e.kind);
    case "busy":
      return new ApiError(
        503,
        "unavailable",
        "This shard is catching up; retry shortly with the same Idempotency-Key.",
        {
          retryAfter: e.retryAfter,
        },
      );
    case "conflict":
      return offline
        ? new ApiError(409, "offline_seq_conflict", "This terminalSeq was registered with a different receipt.")
        : new ApiError(409, "idempotency_conflict", "This Idempotency-Key was used with a different body.");
    case "refund_refused":
      return new ApiError(409, e.reason, REFUND_MESSAGES[e.reason], {
        ...(e.path && e.message ? { details: [{ path: e.path, message: e.message }] } : {}),
      });
    case "unavailable":
      return new ApiError(
        503,
        "unavailable",
        "The original receipt cannot be reached; retry with the same Idempotency-Key.",
        {
          retryAfter: 5,
        },
      );
    case "rate_limited":
      return new ApiError(
        429,
        "rate_limited",
        `This store is sending more than ${e.limit} receipts a second; slow down.`,
        {
          retryAfter: e.retryAfter,
        },
      );
  }
}

/**
 * The body's canonical hash, for idempotency. Called only after the receipt
 * validated, and still guarded: JSON that RFC 8785 cannot canonicalize (a
 * lone surrogate, 1e999) is the client's mistake, a 400, never a 500.
 */
function bodyHash(body: unknown): string {
  try {
    return canonicalHash(body);
  } catch (e) {
    throw validationFailed(
      [{ path: "", message: (e as Error).message }],
      "The body has values JSON cannot carry exactly.",
    );
  }
}

const statusOf = (o: { kind: "issued" | "replayed" }) => (o.kind === "issued" ? 201 : 200);

/** One receipt (POST /v1/receipts): 201 issued or 200 replayed, or the ApiError thrown. */
export async function issueOne(
  via: IssueVia,
  key: string,
  raw: Record<string, unknown>,
  receipt: ReceiptInput,
): Promise<{ status: 200 | 201; body: IssuedReceipt }> {
  if (receipt.offline) {
    throw validationFailed(
      [{ path: "offline", message: "is only taken in POST /v1/receipts/batch" }],
      "Offline receipts are registered through the batch endpoint.",
    );
  }
  const [outcome] = await issue(via, [entryOf(via.env, key, raw, receipt)]);
  if (!outcome) throw new Error("shard returned no outcome");
  if ("receipt" in outcome) return { status: statusOf(outcome), body: outcome.receipt };
  throw shardError(outcome);
}

export type BatchResult = { status: number; receipt?: IssuedReceipt; error?: ErrorBody["error"] };

/** A batch (POST /v1/receipts/batch): each receipt judged alone, one result each, in order. */
export async function issueBatch(
  via: IssueVia,
  receipts: Record<string, unknown>[],
  now: number,
): Promise<{ results: BatchResult[] }> {
  const results: BatchResult[] = [];
  const entries: IssueEntry[] = [];
  const slots: number[] = [];
  for (const [i, raw] of receipts.entries()) {
    const { idempotencyKey, ...body } = raw;
    try {
      const key = idempotencyKeySchema.safeParse(idempotencyKey);
      // An offline receipt is known by its terminalSeq; its idempotencyKey plays no part.
      if (!key.success && body.offline === undefined) {
        throw new ApiError(
          400,
          "invalid_idempotency_key",
          "Each receipt needs an idempotencyKey of 1–64 characters [A-Za-z0-9_-].",
        );
      }
      const receipt = parseReceipt(body, now);
      entries.push(entryOf(via.env, key.data ?? "", body, receipt));
      slots.push(i);
      results.push({ status: 0 });
    } catch (e) {
      const refused = apiErrorOf(e);
      if (!refused) throw e;
      results.push({ status: refused.status, error: refused.toBody().error });
    }
  }
  if (entries.length) {
    const outcomes = await issue(via, entries);
    outcomes.forEach((o, j) => {
      const slot = slots[j] as number;
      const offline = entries[j]?.offline !== undefined;
      results[slot] =
        "receipt" in o
          ? { status: statusOf(o), receipt: o.receipt }
          : { status: shardError(o, offline).status, error: shardError(o, offline).toBody().error };
    });
  }
  return { results };
}
