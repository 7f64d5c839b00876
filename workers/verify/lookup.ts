/**
 * Verifying a code: the keyed check first (no storage touched for a typo), then
 * Postgres, then the code's own shard while the receipt is not persisted yet.
 */
import { type ChainStatus, chainStatus } from "../../core/chain.ts";
import { groupCode, parseCode } from "../../core/code.ts";
import { invalidCode, notFound, unavailable } from "../../core/errors.ts";
import type { ChainRecord } from "../../core/receipt.ts";
import { findNames, findReceipt, hashAtSeq, type PersistedReceipt } from "../../db/receipts.ts";
import { type Ctx, pg } from "../http.ts";
import { shard } from "../shards.ts";

export type VerifiedReceipt = {
  code: string;
  status: ChainStatus;
  persisted: boolean;
  tenant: { id: string; displayName: string };
  store: { id: string; name: string };
  terminalId: string;
  seq: number;
  issuedAt: string;
  receivedAt: string;
  currency: string;
  total: number;
  items: ChainRecord["items"];
  payments: ChainRecord["payments"];
  cashier?: string;
  hash: string;
  prevHash: string;
};

export async function verifyCode(c: Ctx, input: string): Promise<VerifiedReceipt> {
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
    return view(record, persisted.hash, chainStatus(record, persisted.hash, pred), true, persisted);
  }

  const held = await owner.lookup(parts.counter);
  if (!held) {
    if (postgresDown) throw unavailable("Receipt lookup is temporarily unavailable.");
    // It may have been persisted and pruned between the two reads.
    const late = await findReceipt(db, parts.code);
    if (!late) throw notFound("Receipt");
    return view(late.record, late.hash, chainStatus(late.record, late.hash, late.predecessorHash), true, late);
  }
  const record = JSON.parse(held.record) as ChainRecord;
  const pred =
    record.seq > 1
      ? ((await owner.hashAt(record.tenantId, record.storeId, record.seq - 1)) ??
        (postgresDown ? null : await hashAtSeq(db, record.tenantId, record.storeId, record.seq - 1)))
      : null;
  const names = postgresDown
    ? { tenantName: null, storeName: held.storeName }
    : await findNames(db, record.tenantId, record.storeId).catch(() => ({
        tenantName: null,
        storeName: held.storeName,
      }));
  return view(record, held.hash, chainStatus(record, held.hash, pred), false, {
    tenantName: names.tenantName,
    storeName: names.storeName ?? held.storeName,
  });
}

function view(
  r: ChainRecord,
  hash: string,
  status: ChainStatus,
  persisted: boolean,
  names: { tenantName: string | null; storeName: string | null },
): VerifiedReceipt {
  return {
    code: groupCode(r.code),
    status,
    persisted,
    tenant: { id: r.tenantId, displayName: names.tenantName ?? r.tenantId },
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
}
