/** Tamper evidence: does a stored record still hash to its hash and link to its predecessor? */
import { canonicalHash } from "./canonical.ts";
import { type ChainRecord, GENESIS_HASH } from "./receipt.ts";

export type ChainStatus = "valid" | "tampered";

/**
 * `predecessorHash` is the stored hash of the store's receipt seq − 1 (null if it
 * cannot be found anywhere, which for seq > 1 means it was removed).
 */
export function chainStatus(record: ChainRecord, storedHash: string, predecessorHash: string | null): ChainStatus {
  if (canonicalHash(record) !== storedHash) return "tampered";
  const expectedPrev = record.seq === 1 ? GENESIS_HASH : predecessorHash;
  return record.prevHash === expectedPrev ? "valid" : "tampered";
}
