/**
 * The one renderer of what a terminal hears for a receipt: the same body when
 * it is issued and when a retry replays it (from the shard's ring, a pre-ring
 * shard's key, or Postgres), so a replay is byte for byte the original. The
 * signed QR is deterministic too (Ed25519), so a replay prints the same code.
 */
import type { IssuedReceipt } from "../../api/responses.ts";
import { groupCode } from "../../core/code.ts";
import type { Issued } from "../../core/receipt.ts";
import { type CertKeys, signedQrOf } from "../shared/cert-keys.ts";

export function renderIssued(i: Issued, baseUrl: string): IssuedReceipt {
  const printed = groupCode(i.code);
  return {
    code: printed,
    verifyUrl: `${baseUrl}/r/${printed}`,
    tenantId: i.tenantId,
    storeId: i.storeId,
    terminalId: i.terminalId,
    seq: i.seq,
    issuedAt: i.issuedAt,
    receivedAt: i.receivedAt,
    hash: i.hash,
    prevHash: i.prevHash,
    kind: i.kind,
    refersTo: i.refersTo === null ? null : groupCode(i.refersTo),
    ...(i.late ? { late: true as const } : {}),
  };
}

/**
 * With `signedQr` (contract v1.2), when TERMINAL_CERT_KEY is set and the
 * receipt's amount is known (a reply stored before the ring has none).
 */
export async function renderSigned(i: Issued, baseUrl: string, keys: CertKeys | null): Promise<IssuedReceipt> {
  const r = renderIssued(i, baseUrl);
  if (!keys || i.currency === null || i.total === null) return r;
  const qr = { code: r.code, receivedAt: r.receivedAt, currency: i.currency, total: i.total, hash: r.hash };
  return { ...r, signedQr: await signedQrOf(keys, r.verifyUrl, qr) };
}
