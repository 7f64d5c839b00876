/**
 * Verifying a code, in one pass: the keyed check first (no storage touched for
 * a typo); then, at the same time, Postgres and the code's shard (which holds
 * the receipt until Postgres has it, and the log). The record comes from one
 * ReceiptSource; its status from one comparison with the log: a record that no
 * longer hashes to its hash, or whose hash is not the leaf the log holds at its
 * index, is `tampered`. A code the log has but no store has is `missing`.
 */

import { invalidCode, notFound, unavailable } from "../../api/errors.ts";
import { type MissingReceipt, type Proof, receiptFields, type VerifiedReceipt } from "../../api/responses.ts";
import type { Branding } from "../../core/branding.ts";
import { canonicalJson } from "../../core/canonical.ts";
import { chainStatus } from "../../core/chain.ts";
import { type CodeFormat, groupCode, parseCode } from "../../core/code.ts";
import type { ChainRecord } from "../../core/receipt.ts";
import type { Db } from "../../db/client.ts";
import { findQuarantined } from "../../db/quarantine.ts";
import { findNames, findReceipt, type PersistedReceipt } from "../../db/receipts.ts";
import { findInShardDatabases } from "../../db/routing.ts";
import type { LogView } from "../../durable-objects/log.ts";
import type { ShardView } from "../../durable-objects/shard.ts";
import { describeError } from "../../kit/describe-error.ts";
import { hexList, inclusionProof } from "../../tlog/proofs.ts";
import { assertCodeKey, receiptRoutes } from "../config-check.ts";
import { type Ctx, pg, pgAt } from "../http.ts";
import { logger } from "../request-context.ts";
import { callShard, shard } from "../shards.ts";
import { findArchived } from "./archived-receipt.ts";
import { brandingOrDefault, defaultBranding } from "./branding-store.ts";
import { loggedHash } from "./record-check.ts";
import { tileReader } from "./tiles.ts";

/** The contract's verify answer, plus what only the receipt page shows. */
export type Verification =
  | {
      receipt: VerifiedReceipt;
      branding: Branding;
      /** The store's IANA time zone (UTC if unknown). */
      storeTimezone: string;
      /** The record exactly as hashed, so the page's script can hash it itself. */
      canonical: string;
    }
  | { receipt: MissingReceipt; branding: null; storeTimezone: "UTC"; canonical: null };

type Names = { tenantName: string | null; storeName: string | null; storeTimezone: string | null };

/** One place a record was read from (Postgres, or the shard until Postgres has it). */
type ReceiptSource = {
  record: ChainRecord;
  hash: string;
  persisted: boolean;
  names: Names;
  /** The stored hash of the store's previous receipt, when the same read found it. */
  predecessorHash: string | null;
};

export async function verifyCode(c: Ctx, input: string): Promise<Verification> {
  await assertCodeKey(c.env);
  const parts = parseCode(c.env.CODE_KEY, input);
  if (!parts) throw invalidCode();
  const { source, view } = await read(c, parts);
  const index = parts.counter - 1;
  if (!source) {
    const proof = view ? await proofFor(c, parts.shard, index, view.log).catch(logFailure(null)) : null;
    const receipt: MissingReceipt = {
      code: groupCode(parts.code),
      status: "missing",
      persisted: false,
      proof,
      witnessed: view ? isWitnessed(index, view.log) : false,
    };
    return { receipt, branding: null, storeTimezone: "UTC", canonical: null };
  }
  const { record: r, hash, persisted, names } = source;
  const [branding, checked] = await Promise.all([
    brandingFor(c, r.tenantId, names.tenantName ?? r.tenantId),
    view ? checkLog(c, parts.shard, index, hash, view.log).catch(logFailure(null)) : null,
  ]);
  const status = chainStatus(r, hash, checked?.leaf ?? null, source.predecessorHash);
  // Fail closed: "valid" means checked against the log. A record that fails on its own is
  // "tampered" whatever the log says; anything else waits until the log can be read.
  if (!checked && status === "valid") throw unavailable("The receipt cannot be checked against its log right now.");
  const { code, ...fields } = receiptFields(r, hash, {
    tenantDisplayName: branding.displayName,
    storeName: names.storeName ?? r.storeId,
  });
  const receipt: VerifiedReceipt = {
    code,
    status,
    persisted,
    proof: checked?.proof ?? null,
    witnessed: view ? isWitnessed(index, view.log) : false,
    ...fields,
    ...(fields.kind === "sale" ? refundsOf(view?.refunds ?? null) : {}),
  };
  return { receipt, branding, storeTimezone: names.storeTimezone ?? "UTC", canonical: canonicalJson(r) };
}

/** A sale's refunds and void, as its shard's ledger has them, in the answer's form (codes grouped). */
function refundsOf(s: ShardView["refunds"]): Pick<VerifiedReceipt, "refunds" | "refundedTotal" | "voidedBy"> {
  return {
    refunds: (s?.refunds ?? []).map((r) => ({ ...r, code: groupCode(r.code) })),
    refundedTotal: s?.refundedTotal ?? 0,
    voidedBy: s?.voidedBy ? groupCode(s.voidedBy) : null,
  };
}

const logFailure =
  <T>(fallback: T) =>
  (e: unknown): T => {
    logger.error({ msg: "verify: log unavailable", error: describeError(e) });
    return fallback;
  };

/**
 * Postgres and the shard at once. Null source: neither has the record. Null
 * view: the shard could not answer (then the record cannot be checked against
 * its log, and only a record that fails its own hash gets an answer).
 */
async function read(
  c: Ctx,
  parts: { shard: number; counter: number; code: string; format: CodeFormat },
): Promise<{ source: ReceiptSource | null; view: ShardView | null }> {
  // Names are the control plane's (the primary's); a receipt, and its archive's registry, its shard's database's.
  const { db } = pg(c);
  // Read first: an unreadable routing table is a 503 the operator fixes (receiptRoutes), never a "missing" receipt.
  receiptRoutes(c.env);
  const inShardDatabases = <T>(find: (db: Db) => Promise<T | null>) =>
    findInShardDatabases(c.env, parts.shard, (d) => find(pgAt(c, d).db));
  const fromPostgres = () =>
    inShardDatabases((d) => findReceipt(d, parts.code)).then(
      (row) => ({ row, down: false }),
      (e: unknown) => {
        logger.error({ msg: "verify: postgres lookup failed", error: describeError(e) });
        return { row: null, down: true };
      },
    );
  const [found, view] = await Promise.all([
    fromPostgres(),
    callShard(parts.shard, () => shard(c.env, parts.shard).view(parts.counter)).catch(() => null),
  ]);
  if (found.row) return { source: persistedSource(found.row), view };
  const heldRecord = view?.held ? (JSON.parse(view.held.record) as ChainRecord) : null;
  // The shard answers by counter; the code must be the one it issued (not the other layout's spelling).
  if (view?.held && heldRecord?.code === parts.code) {
    const record = heldRecord;
    const fromShard: Names = {
      tenantName: null,
      storeName: view.held.storeName,
      storeTimezone: view.held.storeTimezone,
    };
    const names = found.down
      ? fromShard
      : await findNames(db, record.tenantId, record.storeId).then(
          (n) => ({
            tenantName: n.tenantName,
            storeName: n.storeName ?? fromShard.storeName,
            storeTimezone: n.storeTimezone ?? fromShard.storeTimezone,
          }),
          () => fromShard,
        );
    return { source: { record, hash: view.held.hash, persisted: false, names, predecessorHash: null }, view };
  }
  if (found.down || !view) {
    logger.error({ msg: "verify: lookup failed", postgresDown: found.down, shardDown: !view });
    throw unavailable("Receipt lookup is temporarily unavailable.");
  }
  // Persisted and pruned between the two reads: Postgres has it now.
  const again = await inShardDatabases((d) => findReceipt(d, parts.code));
  if (again) return { source: persistedSource(again), view };
  // Archived (docs/archive.md): older than HOT_DAYS, in R2.
  const archived = await inShardDatabases((d) => findArchived(c.env, d, parts)).catch((e: unknown) => {
    logger.error({ msg: "verify: archive lookup failed", error: describeError(e) });
    throw unavailable("The receipt archive cannot be read right now.");
  });
  if (archived) return { source: persistedSource(archived), view };
  // Refused by Postgres and kept aside (workers/persist): checked against the log like any record.
  const quarantined = await inShardDatabases((d) => findQuarantined(d, parts.code));
  if (quarantined) {
    const names = await findNames(db, quarantined.record.tenantId, quarantined.record.storeId);
    return {
      source: { record: quarantined.record, hash: quarantined.hash, persisted: false, names, predecessorHash: null },
      view,
    };
  }
  // Issued (within the log, in the layout the shard used for that counter) but gone: missing.
  if (parts.counter <= view.log.size && parts.format === view.codeFormat) return { source: null, view };
  throw notFound("Receipt");
}

function persistedSource(row: PersistedReceipt): ReceiptSource {
  return { record: row.record, hash: row.hash, persisted: true, names: row, predecessorHash: row.predecessorHash };
}

async function brandingFor(c: Ctx, tenantId: string, fallbackName: string): Promise<Branding> {
  return brandingOrDefault(c.env.BRANDING, tenantId, fallbackName).catch((e) => {
    // Branding is decoration: a KV hiccup must not hide whether a receipt is genuine.
    logger.error({ msg: "verify: branding lookup failed", error: describeError(e) });
    return defaultBranding(fallbackName);
  });
}

/** Whether the latest witnessed checkpoint covers leaf `index`. */
const isWitnessed = (index: number, log: LogView): boolean => index < (log.witnessed?.size ?? 0);

/** The inclusion proof of leaf `index` for the shard's latest witnessed checkpoint, if it covers the leaf. */
async function proofFor(c: Ctx, n: number, index: number, log: LogView): Promise<Proof> {
  const signed = log.witnessed;
  if (!signed || index >= signed.size) return null;
  const inclusion = hexList(await inclusionProof(index, signed.size, tileReader(c.env, n, log)));
  return { shard: n, leafIndex: index, treeSize: signed.size, inclusion, checkpoint: signed.note };
}

/**
 * The receipt hash the log holds at `index` (as `hash` if its leaf matches,
 * else a marker that cannot equal any hash), and the inclusion proof for the
 * latest checkpoint. The proof is given even when the leaf does not match, so
 * a client (the receipt page's script) can see for itself that it fails. The
 * comparison stands even if the proof cannot be built (then the proof is null).
 */
async function checkLog(
  c: Ctx,
  n: number,
  index: number,
  hash: string,
  log: LogView,
): Promise<{ leaf: string; proof: Proof }> {
  const leaf = await loggedHash(c.env, n, index, hash, log);
  const proof = await proofFor(c, n, index, log).catch(logFailure(null));
  return { leaf, proof };
}
