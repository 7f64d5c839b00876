/**
 * The one renderer of what a terminal hears for a receipt: the same body when
 * it is issued and when a retry replays it (from the shard's ring, a pre-ring
 * shard's key, or Postgres), so a replay is byte for byte the original.
 */
import type { IssuedReceipt } from "../../api/responses.ts";
import { groupCode } from "../../core/code.ts";
import type { Issued } from "../../core/receipt.ts";

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
  };
}
