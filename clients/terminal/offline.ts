/**
 * The terminal's side of offline receipts (contract v1.2): its own Ed25519 key
 * and certificate, the next terminalSeq, and the receipts it signed while the
 * gateway could not be reached, kept in the client's storage until uploaded.
 * The texts and payloads are the gateway's own (core/offline.ts).
 */
import { canonicalHash } from "../../core/canonical.ts";
import { encodePayload, offlinePayload, offlineReceiptText, signText } from "../../core/offline.ts";
import { fromBase64, toBase64 } from "../../kit/base64.ts";
import type { SaleInput } from "./types.ts";

/** Who the terminal is, and its key: what `enroll` keeps. The private key never leaves the storage. */
export type TerminalIdentity = {
  tenantId: string;
  storeId: string;
  terminalId: string;
  token: string;
  /** Standard base64 of the raw public key, as registered. */
  publicKey: string;
  /** Standard base64 of the PKCS#8 private key. */
  privateKey: string;
  certificate: string;
  notAfter: string;
};

/** A receipt signed offline, waiting for its upload. */
export type OfflineReceipt = {
  terminalSeq: number;
  signedAt: string;
  signature: string;
  sale: SaleInput;
  /** What to print as the QR code: `<gateway>/o#<payload>`. */
  qr: string;
};

export type OfflineState = {
  identity: TerminalIdentity;
  /** The terminalSeq the next offline receipt takes (saved before its QR is handed out: no gaps, no reuse). */
  nextSeq: number;
  pending: OfflineReceipt[];
  /** The latest registrations (at most 1,000): terminalSeq → code. */
  registered: { terminalSeq: number; code: string }[];
};

/** How long and how much a terminal may sell offline before it must reach the gateway. */
export type OfflineBudget = { hours: number; count: number };

export const DEFAULT_BUDGET: OfflineBudget = { hours: 72, count: 500 };

/** A sale refused because the terminal has sold offline for as long or as much as its budget allows. */
export class OfflineBudgetError extends Error {
  readonly reason: "hours" | "count";
  constructor(reason: "hours" | "count", message: string) {
    super(message);
    this.name = "OfflineBudgetError";
    this.reason = reason;
  }
}

export async function newKeyPair(): Promise<{ publicKey: string; privateKey: string }> {
  const pair = (await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  return { publicKey: toBase64(raw), privateKey: toBase64(pkcs8) };
}

/** Why the budget refuses another offline sale now, or null. */
export function budgetProblem(state: OfflineState, budget: OfflineBudget, now: number): OfflineBudgetError | null {
  if (state.pending.length >= budget.count) {
    return new OfflineBudgetError(
      "count",
      `This terminal has made ${state.pending.length} receipts offline, its budget (${budget.count}); reconnect it to the gateway before selling again.`,
    );
  }
  const oldest = state.pending[0];
  const hours = oldest ? (now - Date.parse(oldest.signedAt)) / 3_600_000 : 0;
  if (hours >= budget.hours) {
    return new OfflineBudgetError(
      "hours",
      `This terminal has been offline for ${Math.floor(hours)} h, its budget is ${budget.hours} h; reconnect it to the gateway before selling again.`,
    );
  }
  return null;
}

/** Signs one sale as offline receipt `seq`, and builds the QR to print. */
export async function signOffline(
  id: TerminalIdentity,
  seq: number,
  sale: SaleInput,
  signedAt: string,
  baseUrl: string,
): Promise<OfflineReceipt> {
  const signed = {
    tenantId: id.tenantId,
    storeId: id.storeId,
    terminalId: id.terminalId,
    terminalSeq: seq,
    signedAt,
    currency: sale.currency,
    total: sale.total,
    bodyHash: canonicalHash(sale),
  };
  const pkcs8 = fromBase64(id.privateKey);
  if (!pkcs8) throw new Error("the terminal's stored private key is not base64");
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", false, ["sign"]);
  const signature = await signText(key, offlineReceiptText(signed));
  const payload = offlinePayload(signed, id, signature);
  return { terminalSeq: seq, signedAt, signature, sale, qr: `${baseUrl}/o#${encodePayload(payload)}` };
}
