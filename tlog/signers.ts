/**
 * The log's signing keys, parsed once per isolate (importing is async WebCrypto
 * work). The shard signs with them and the Worker publishes the first.
 */
import { parseSigningKey, type Signer } from "./note.ts";

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
