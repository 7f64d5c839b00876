/**
 * Verifying a code: the keyed check first (no storage touched for a typo), then
 * Postgres, then the code's own shard while the receipt is not persisted yet;
 * then the tenant's branding from KV, whose displayName is the one customers see.
 */
import type { Branding } from "../../core/branding.ts";
import { type ChainStatus, chainStatus } from "../../core/chain.ts";
import { groupCode, parseCode } from "../../core/code.ts";
import { invalidCode, notFound, unavailable } from "../../core/errors.ts";
import type { ChainRecord } from "../../core/receipt.ts";
import type { VerifiedReceipt } from "../../core/responses.ts";
import { findNames, findReceipt, hashAtSeq, type PersistedReceipt } from "../../db/receipts.ts";
import type { StoredReceipt } from "../../durable-objects/store-shard.ts";
import { type Ctx, pg } from "../http.ts";
import { callShard, shard } from "../shards.ts";
import { brandingOrDefault, defaultBranding } from "../tenant/branding-store.ts";

/** The contract's verify answer, plus what only the receipt page shows. */
export type Verification = {
  receipt: VerifiedReceipt;
  branding: Branding;
  /** The store's IANA time zone (UTC if unknown). */
  storeTimezone: string;
};

type Names = { tenantName: string | null; storeName: string | null; storeTimezone: string | null };

export async function verifyCode(c: Ctx, input: string): Promise<Verification> {
  const found = await lookup(c, input);
  const fallbackName = found.names.tenantName ?? found.record.tenantId;
  const branding = await brandingOrDefault(c.env.BRANDING, found.record.tenantId, fallbackName).catch((e) => {
    // Branding is decoration: a KV hiccup must not hide whether a receipt is genuine.
    console.error(JSON.stringify({ msg: "verify: branding lookup failed", error: String(e) }));
    return defaultBranding(fallbackName);
  });
  const { record: r, hash, status, persisted, names } = found;
  const receipt: VerifiedReceipt = {
    code: groupCode(r.code),
    status,
    persisted,
    tenant: { id: r.tenantId, displayName: branding.displayName },
    store: { id: r.storeId, name: names.storeName ?? r.storeId },
    terminalId: r.terminalId,
    seq: r.seq,
    issuedAt: r.issuedAt,
    receivedAt: r.receivedAt,
    currency: r.currency,
    total: r.total,
    items: r.items,
    payments: r.payments,
    hash,
    prevHash: r.prevHash,
  };
  return { receipt, branding, storeTimezone: names.storeTimezone ?? "UTC" };
}

type Found = { record: ChainRecord; hash: string; status: ChainStatus; persisted: boolean; names: Names };

async function lookup(c: Ctx, input: string): Promise<Found> {
  const parts = parseCode(c.env.CODE_KEY, input);
  if (!parts) throw invalidCode();
  const { db } = pg(c);
  const owner = shard(c.env, parts.shard);
  const ask = <T>(fn: () => Promise<T>) => callShard(parts.shard, fn);

  let persisted: PersistedReceipt | null = null;
  let postgresDown = false;
  try {
    persisted = await findReceipt(db, parts.code);
  } catch (e) {
    postgresDown = true;
    console.error(JSON.stringify({ msg: "verify: postgres lookup failed", error: String(e) }));
  }

  if (!persisted) {
    const held = await ask(() => owner.lookup(parts.counter));
    if (held) return fromShard(c, held, postgresDown);
    if (postgresDown) throw unavailable("Receipt lookup is temporarily unavailable.");
    // It may have been persisted and pruned between the two reads.
    persisted = await findReceipt(db, parts.code);
    if (!persisted) throw notFound("Receipt");
  }

  const { record, hash } = persisted;
  const { tenantId, storeId, seq } = record;
  // Delivery can be out of order: a link Postgres lacks is still in the shard,
  // or reached Postgres while we asked (so ask Postgres once more).
  const pred =
    persisted.predecessorHash ??
    (seq > 1
      ? ((await ask(() => owner.hashAt(tenantId, storeId, seq - 1, parts.counter))) ??
        (await hashAtSeq(db, tenantId, storeId, seq - 1)))
      : null);
  // Only a cross-check: if the shard cannot answer, judge by the other checks.
  const next =
    persisted.successorLink ??
    (await owner.chainLink(tenantId, storeId, seq, parts.counter).catch((e: unknown) => {
      console.error(JSON.stringify({ msg: "verify: chain link unavailable", shard: parts.shard, error: String(e) }));
      return null;
    }));
  return { record, hash, status: chainStatus(record, hash, pred, next), persisted: true, names: persisted };
}

/** A receipt only its shard holds yet. */
async function fromShard(c: Ctx, held: StoredReceipt, postgresDown: boolean): Promise<Found> {
  const { db } = pg(c);
  const record = JSON.parse(held.record) as ChainRecord;
  let pred = held.predecessorHash;
  if (pred === null && record.seq > 1) {
    // The predecessor was pruned, so only Postgres can vouch for the link.
    if (postgresDown) throw unavailable("Receipt verification is temporarily unavailable.");
    pred = await hashAtSeq(db, record.tenantId, record.storeId, record.seq - 1);
  }
  const shardNames: Names = { tenantName: null, storeName: held.storeName, storeTimezone: held.storeTimezone };
  const names = postgresDown
    ? shardNames
    : await findNames(db, record.tenantId, record.storeId).catch(() => shardNames);
  return {
    record,
    hash: held.hash,
    status: chainStatus(record, held.hash, pred, held.successorLink),
    persisted: false,
    names: {
      tenantName: names.tenantName,
      storeName: names.storeName ?? held.storeName,
      storeTimezone: names.storeTimezone ?? held.storeTimezone,
    },
  };
}
