/**
 * The log's signing keys, parsed once per isolate (importing is async WebCrypto
 * work). The shard signs with them and the Worker publishes the first.
 */
import { parseSigningKey, type Signer } from "./note.ts";
import { parseWitnessPolicy, type WitnessPolicy } from "./witness-protocol.ts";

const parsed = new Map<string, Promise<Signer[]>>();

/**
 * LOG_SIGNING_KEY holds one key, or several separated by spaces during a
 * rotation: each signs every checkpoint, and the first is the one /v1/log/key
 * publishes. Empty when none is configured.
 */
export function signersFor(keys: string | undefined): Promise<Signer[]> {
  const text = keys?.trim() ?? "";
  let signers = parsed.get(text);
  if (!signers) {
    signers = Promise.all(
      text
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(parseSigningKey),
    );
    parsed.set(text, signers);
  }
  return signers;
}

/** The key /v1/log/key publishes, or null when the log has none. */
export const primarySigner = async (keys: string | undefined): Promise<Signer | null> =>
  (await signersFor(keys))[0] ?? null;

const policies = new Map<string, Promise<WitnessPolicy>>();

/** WITNESSES and WITNESS_QUORUM parsed once per isolate; rejects (every time) if they are malformed. */
export function witnessPolicyFor(list: string | undefined, quorum: number | undefined): Promise<WitnessPolicy> {
  const key = `${list ?? ""}|${quorum ?? ""}`;
  let policy = policies.get(key);
  if (!policy) {
    policy = parseWitnessPolicy(list, quorum);
    policies.set(key, policy);
  }
  return policy;
}
