/**
 * C2SP tlog-cosignature: a witness's timestamped Ed25519 cosignature
 * (signature type 0x04) on a checkpoint, with WebCrypto only.
 *
 *   signed message = "cosignature/v1\ntime <t>\n" ‖ checkpoint text
 *   signature      = key ID ‖ uint64 big-endian t ‖ Ed25519 signature
 *   key ID         = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]
 *   vkey           = <name>+<8 hex key ID>+<base64(0x04 ‖ public key)>
 *
 * A witness's private key is an ordinary signed-note key (the 0x01 form
 * `npm run log:keygen` prints); only its cosigner identity uses 0x04.
 */
import { b64, hex, KEY_NAME, keyIdOf, type Signer, splitKey, splitNote, unb64, type Verifier } from "./note.ts";

const COSIGNATURE = 0x04;
const enc = new TextEncoder();

/** A witness's signing identity: the same Ed25519 key, under its 0x04 key ID. */
export type Cosigner = Signer;

export async function cosignerOf(signer: Signer): Promise<Cosigner> {
  return { ...signer, keyId: await keyIdOf(signer.name, signer.publicKey, COSIGNATURE) };
}

export const cosignerVkey = (c: Cosigner): string =>
  `${c.name}+${hex(c.keyId)}+${b64(new Uint8Array([COSIGNATURE, ...c.publicKey]))}`;

/** Reads a cosigner vkey (type 0x04); null if it is not one whose key ID matches. */
export async function parseCosignerVkey(vkey: string): Promise<Verifier | null> {
  const [name = "", id = "", body = ""] = splitKey(vkey.trim(), 3) ?? [];
  const raw = unb64(body);
  if (!KEY_NAME.test(name) || raw?.length !== 33 || raw[0] !== COSIGNATURE) return null;
  const publicKey = raw.slice(1);
  const keyId = await keyIdOf(name, publicKey, COSIGNATURE);
  if (hex(keyId) !== id.toLowerCase()) return null;
  const key = await crypto.subtle.importKey("raw", publicKey, "Ed25519", false, ["verify"]);
  return { name, keyId, publicKey, key };
}

const message = (checkpointText: string, time: number) => enc.encode(`cosignature/v1\ntime ${time}\n${checkpointText}`);

/** The signature line (with its newline) cosigning a checkpoint's text at `time` (seconds since the epoch). */
export async function cosign(checkpointText: string, cosigner: Cosigner, time: number): Promise<string> {
  const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", cosigner.key, message(checkpointText, time)));
  const stamp = new Uint8Array(8);
  new DataView(stamp.buffer).setBigUint64(0, BigInt(time));
  return `— ${cosigner.name} ${b64(new Uint8Array([...cosigner.keyId, ...stamp, ...sig]))}\n`;
}

/** When `witness` cosigned this note's checkpoint (seconds since the epoch), or null if it carries no valid cosignature of its. */
export async function cosignedAt(note: string, witness: Verifier): Promise<number | null> {
  const parsed = splitNote(note);
  if (!parsed) return null;
  for (const { name, raw } of parsed.signatures) {
    if (name !== witness.name || raw.length !== 4 + 8 + 64 || hex(raw.slice(0, 4)) !== hex(witness.keyId)) continue;
    const time = Number(new DataView(raw.buffer, raw.byteOffset + 4, 8).getBigUint64(0));
    if (await crypto.subtle.verify("Ed25519", witness.key, raw.slice(12), message(parsed.text, time))) return time;
  }
  return null;
}

/** How many of `witnesses` validly cosigned this note. */
export async function cosignatureCount(note: string, witnesses: Verifier[]): Promise<number> {
  const times = await Promise.all(witnesses.map((w) => cosignedAt(note, w)));
  return times.filter((t) => t !== null).length;
}
