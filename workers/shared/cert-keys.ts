/**
 * The gateway's terminal-certificate key (TERMINAL_CERT_KEY, contract v1.2):
 * it signs terminal certificates and every receipt's printed QR. Parsed once
 * per isolate. The retired keys (TERMINAL_CERT_RETIRED) sign nothing; they are
 * published so certificates and QR codes signed before a rotation still check.
 */
import { config } from "../../core/config.ts";
import {
  type CertifiedTerminal,
  certificateText,
  encodePayload,
  type QrSigned,
  receiptQrText,
  signedQrPayload,
  signText,
} from "../../core/offline.ts";
import { parseSigningKey, parseVerifierKey, type Signer, verifierKeyOf } from "../../tlog/note.ts";
import type { Env } from "../env.ts";

export type CertKeys = {
  signer: Signer;
  /** The current key's verifier key, as /v1/log/witnesses publishes it. */
  vkey: string;
  /** Verifier keys rotated out, still trusted. */
  retired: string[];
  /** Raw public keys of all of them, current first: what a check trusts. */
  trusted: Uint8Array[];
};

const parsed = new Map<string, Promise<CertKeys | null>>();

/** Null when TERMINAL_CERT_KEY is not set; rejects, naming the variable, when a key does not parse. */
export function certKeys(env: Pick<Env, "TERMINAL_CERT_KEY"> & Parameters<typeof config>[0]): Promise<CertKeys | null> {
  const text = env.TERMINAL_CERT_KEY?.trim() ?? "";
  const retiredText = config(env).TERMINAL_CERT_RETIRED.trim();
  const id = `${text}\n${retiredText}`;
  let keys = parsed.get(id);
  if (!keys) {
    keys = (async () => {
      if (!text) return null;
      const signer = await parseSigningKey(text).catch((e: Error) => {
        throw new Error(`TERMINAL_CERT_KEY is invalid: ${e.message.replace("LOG_SIGNING_KEY", "the key")}`);
      });
      const retired = retiredText.split(/\s+/).filter(Boolean);
      const verifiers = await Promise.all(retired.map(parseVerifierKey));
      const bad = retired.filter((_, i) => !verifiers[i]);
      if (bad.length)
        throw new Error(`TERMINAL_CERT_RETIRED has keys that are not Ed25519 verifier keys: ${bad.join(" ")}`);
      return {
        signer,
        vkey: verifierKeyOf(signer),
        retired,
        trusted: [signer.publicKey, ...verifiers.flatMap((v) => (v ? [v.publicKey] : []))],
      };
    })();
    parsed.set(id, keys);
  }
  return keys;
}

/** Standard base64 of the certificate's signature. */
export const signCertificate = (keys: CertKeys, cert: CertifiedTerminal): Promise<string> =>
  signText(keys.signer.key, certificateText(cert));

/** `<verifyUrl>#<payload>`: what the receipt's QR code carries. Ed25519 is deterministic, so a replay prints the same. */
export async function signedQrOf(keys: CertKeys, verifyUrl: string, qr: QrSigned): Promise<string> {
  const sig = await signText(keys.signer.key, receiptQrText(qr));
  return `${verifyUrl}#${encodePayload(signedQrPayload(qr, sig))}`;
}
