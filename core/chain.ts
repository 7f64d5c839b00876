/** Tamper evidence: does a stored record still hash to its hash and link to its predecessor? */
import { canonicalHash } from "./canonical.ts";
import { type ChainRecord, GENESIS_HASH } from "./receipt.ts";

export type ChainStatus = "valid" | "tampered";

/**
 * `predecessorHash` is the stored hash of the store's receipt seq − 1 (null if it
 * cannot be found anywhere, which for seq > 1 means it was removed).
 * `successorLink` is what the chain after this record says its hash is: the next
 * receipt's prevHash, or the shard's chain head for the latest one; null when
 * unknown. It catches a record rewritten together with its own hash.
 */
export function chainStatus(
  record: ChainRecord,
  storedHash: string,
  predecessorHash: string | null,
  successorLink: string | null = null,
): ChainStatus {
  if (canonicalHash(record) !== storedHash) return "tampered";
  if (successorLink !== null && successorLink !== storedHash) return "tampered";
  const expectedPrev = record.seq === 1 ? GENESIS_HASH : predecessorHash;
  return record.prevHash === expectedPrev ? "valid" : "tampered";
}
