/**
 * Tamper evidence for one stored record: does it still hash to its hash, is
 * that hash the leaf the signed log holds at its index, and does it link to
 * its predecessor? Pure: the caller reads the leaf and the predecessor.
 */
import { canonicalHash } from "./canonical.ts";
import { type ChainRecord, GENESIS_HASH } from "./receipt.ts";

export type ChainStatus = "valid" | "tampered";

/**
 * `logLeaf`: the receipt hash the log holds at the record's index (null when the
 * log cannot be read now; then the record's own hash decides). `predecessorHash`:
 * the stored hash of the store's receipt seq − 1, null when it is not at hand
 * (not persisted yet, or gone: the audit reports gaps).
 */
export function chainStatus(
  record: ChainRecord,
  storedHash: string,
  logLeaf: string | null,
  predecessorHash: string | null,
): ChainStatus {
  if (canonicalHash(record) !== storedHash) return "tampered";
  if (logLeaf !== null && logLeaf !== storedHash) return "tampered";
  if (record.seq === 1) return record.prevHash === GENESIS_HASH ? "valid" : "tampered";
  return predecessorHash === null || record.prevHash === predecessorHash ? "valid" : "tampered";
}
