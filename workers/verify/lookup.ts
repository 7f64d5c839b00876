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
import { type Ctx, pg } from "../http.ts";
import { shard } from "../shards.ts";
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
    ...(r.cashier !== undefined ? { cashier: r.cashier } : {}),
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

  let persisted: PersistedReceipt | null = null;
  let postgresDown = false;
  try {
    persisted = await findReceipt(db, parts.code);
  } catch (e) {
    postgresDown = true;
    console.error(JSON.stringify({ msg: "verify: postgres lookup failed", error: String(e) }));
  }
  if (persisted) {
    const { record } = persisted;
    const pred =
      persisted.predecessorHash ??
      (record.seq > 1 ? await owner.hashAt(record.tenantId, record.storeId, record.seq - 1) : null);
    const status = chainStatus(record, persisted.hash, pred);
    return { record, hash: persisted.hash, status, persisted: true, names: persisted };
  }

  const held = await owner.lookup(parts.counter);
  if (!held) {
    if (postgresDown) throw unavailable("Receipt lookup is temporarily unavailable.");
    // It may have been persisted and pruned between the two reads.
    const late = await findReceipt(db, parts.code);
    if (!late) throw notFound("Receipt");
    const status = chainStatus(late.record, late.hash, late.predecessorHash);
    return { record: late.record, hash: late.hash, status, persisted: true, names: late };
  }
  const record = JSON.parse(held.record) as ChainRecord;
  // The shard links to the predecessor it still holds; once pruned, Postgres has it.
  const pred =
    held.predecessorHash ??
    (record.seq > 1 && !postgresDown ? await hashAtSeq(db, record.tenantId, record.storeId, record.seq - 1) : null);
  const fromShard: Names = { tenantName: null, storeName: held.storeName, storeTimezone: held.storeTimezone };
  const names = postgresDown ? fromShard : await findNames(db, record.tenantId, record.storeId).catch(() => fromShard);
  return {
    record,
    hash: held.hash,
    status: chainStatus(record, held.hash, pred),
    persisted: false,
    names: {
      tenantName: names.tenantName,
      storeName: names.storeName ?? held.storeName,
      storeTimezone: names.storeTimezone ?? held.storeTimezone,
    },
  };
}
