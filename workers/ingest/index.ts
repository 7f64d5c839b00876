/**
 * Ingest: terminals submit sales. The Worker does everything stateless
 * (authentication format, validation, arithmetic, card check, body hash) so the
 * shard's serialized step is only: authenticate, dedupe, number, hash, write.
 */

import { ApiError, apiErrorOf, type ErrorBody, invalidCode, validationFailed } from "../../api/errors.ts";
import type { IssuedReceipt } from "../../api/responses.ts";
import { canonicalHash } from "../../core/canonical.ts";
import { parseCode } from "../../core/code.ts";
import { config } from "../../core/config.ts";
import { checkReceipt, idempotencyKeySchema, issuedOf, parseReceipt, type ReceiptInput } from "../../core/receipt.ts";
import { findReceipt } from "../../db/receipts.ts";
import type { IssueEntry, IssueOutcome, OriginalRef, RefundRefusal, Refusal } from "../../durable-objects/issuer.ts";
import { describeError } from "../../kit/describe-error.ts";
import { type Ctx, pg, publicBaseUrl } from "../http.ts";
import { router } from "../openapi.ts";
import { logger } from "../request-context.ts";
import { callShard, shard } from "../shards.ts";
import { certKeys } from "../shared/cert-keys.ts";
import { markChanged } from "../shared/verify-cache.ts";
import { credentialsRefused } from "./auth.ts";
import { backlogOf } from "./backlog.ts";
import { renderSigned } from "./render.ts";
import { issueBatchRoute, issueReceiptRoute } from "./routes.ts";

export const ingest = router();

type Terminal = { shard: number; tokenHash: string };

const terminalOf = (c: Ctx): Terminal => {
  const t = c.get("terminal");
  if (!t) throw new Error("terminalAuth did not run");
  return t;
};

type Refused = Exclude<IssueOutcome, { kind: "issued" | "replayed" | "replayed_persisted" }>;
/** What a terminal hears for one entry: a rendered receipt, or why not. */
type Answer = { kind: "issued" | "replayed"; receipt: IssuedReceipt } | Refused | { kind: "replay_unavailable" };

/** The cert key, or null (not set, or not valid: /healthz says which) — a receipt is never refused for its QR. */
const qrKeys = (c: Ctx) => certKeys(c.env).catch(() => null);

async function issue(c: Ctx, creds: Terminal, entries: IssueEntry[]): Promise<Answer[]> {
  const baseUrl = publicBaseUrl(c);
  const backlog = backlogOf(c.req.header("tillproof-offline-backlog"));
  const [reply, keys] = await Promise.all([
    callShard(creds.shard, () =>
      shard(c.env, creds.shard).issue({ ...creds, entries, ...(backlog ? { backlog } : {}) }),
    ),
    qrKeys(c),
  ]);
  if (reply.refused) throw shardError(reply.refused);
  const answers = await Promise.all(
    reply.outcomes.map(async (o): Promise<Answer> => {
      if (o.kind === "replayed_persisted") return replayFromPostgres(c, o.code, baseUrl);
      if ("issued" in o) return { kind: o.kind, receipt: await renderSigned(o.issued, baseUrl, keys) };
      return o;
    }),
  );
  // A sale just refunded or voided: verify's edge cache here must not answer from before.
  const cached = config(c.env).VERIFY_EDGE_CACHE === "on";
  const originals = cached
    ? answers.flatMap((a) => (a.kind === "issued" && a.receipt.refersTo ? [a.receipt.refersTo] : []))
    : [];
  await Promise.all(
    originals.map((code) =>
      markChanged(c, code).catch((e: unknown) =>
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
async function replayFromPostgres(c: Ctx, code: string, baseUrl: string): Promise<Answer> {
  try {
    const row = await findReceipt(pg(c).db, code);
    if (row)
      return {
        kind: "replayed",
        receipt: await renderSigned(issuedOf(row.record, row.hash), baseUrl, await qrKeys(c)),
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
function originalRef(c: Ctx, r: ReceiptInput): OriginalRef | undefined {
  if (r.refersTo === undefined) return undefined;
  // Longer than any spelling of a code (dashes and spaces included): not one, and not worth decoding.
  const parts = r.refersTo.length > 64 ? null : parseCode(c.env.CODE_KEY, r.refersTo);
  if (!parts) throw invalidCode();
  return { shard: parts.shard, counter: parts.counter, code: parts.code };
}

/**
 * One entry for the shard; refersTo resolved. An offline receipt is keyed by
 * its sequence (whatever idempotencyKey it came with), in a spelling no client
 * key can take; its signature covers the body without `offline`.
 */
function entryOf(c: Ctx, idempotencyKey: string, raw: Record<string, unknown>, receipt: ReceiptInput): IssueEntry {
  const refersTo = originalRef(c, receipt);
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

ingest.openapi(issueReceiptRoute, async (c) => {
  const key = c.req.valid("header")["idempotency-key"];
  // The raw body is hashed for idempotency (the validator kept it parsed), the validated one issued.
  const raw = (await c.req.json()) as Record<string, unknown>;
  const receipt = checkReceipt(c.req.valid("json"), Date.now());
  if (receipt.offline) {
    throw validationFailed(
      [{ path: "offline", message: "is only taken in POST /v1/receipts/batch" }],
      "Offline receipts are registered through the batch endpoint.",
    );
  }
  const [outcome] = await issue(c, terminalOf(c), [entryOf(c, key, raw, receipt)]);
  if (!outcome) throw new Error("shard returned no outcome");
  if ("receipt" in outcome) return c.json(outcome.receipt, statusOf(outcome));
  throw shardError(outcome);
});

type BatchResult = { status: number; receipt?: IssuedReceipt; error?: ErrorBody["error"] };

ingest.openapi(issueBatchRoute, async (c) => {
  const creds = terminalOf(c);
  const batch = c.req.valid("json");
  const now = Date.now();
  const results: BatchResult[] = [];
  const entries: IssueEntry[] = [];
  const slots: number[] = [];
  for (const [i, raw] of batch.receipts.entries()) {
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
      entries.push(entryOf(c, key.data ?? "", body, receipt));
      slots.push(i);
      results.push({ status: 0 });
    } catch (e) {
      const refused = apiErrorOf(e);
      if (!refused) throw e;
      results.push({ status: refused.status, error: refused.toBody().error });
    }
  }
  if (entries.length) {
    const outcomes = await issue(c, creds, entries);
    outcomes.forEach((o, j) => {
      const slot = slots[j] as number;
      const offline = entries[j]?.offline !== undefined;
      results[slot] =
        "receipt" in o
          ? { status: statusOf(o), receipt: o.receipt }
          : { status: shardError(o, offline).status, error: shardError(o, offline).toBody().error };
    });
  }
  return c.json({ results }, 200);
});
