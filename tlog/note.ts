/**
 * C2SP signed-note (Ed25519) and C2SP tlog-checkpoint, with WebCrypto only, so
 * the same code runs in workerd, in Node (audit) and matches what the receipt
 * page's script does in the customer's browser.
 *
 *   key ID   = first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)
 *   vkey     = <name>+<8 hex key ID>+<base64(0x01 ‖ public key)>
 *   private  = PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 ‖ 32-byte seed)>  (Go's note format)
 *   note     = text ‖ "\n" ‖ for each signature: "— <name> <base64(key ID ‖ signature)>\n"
 */
const ED25519 = 0x01;
const enc = new TextEncoder();
const subtle = crypto.subtle;

/** What makes a valid key name in signed notes: no spaces or plus signs. */
export const KEY_NAME = /^[\x21-\x2a\x2c-\x7e]+$/;

export type Signer = { name: string; keyId: Uint8Array; publicKey: Uint8Array; key: CryptoKey };
export type Verifier = { name: string; keyId: Uint8Array; publicKey: Uint8Array; key: CryptoKey };
export type Checkpoint = { origin: string; size: number; root: Uint8Array };

export const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
export function unb64(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  return Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
}
export const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

/** SHA-256(name ‖ 0x0A ‖ signature type ‖ public key)[:4]: 0x01 for a log's key, 0x04 for a cosigner's. */
export async function keyIdOf(name: string, publicKey: Uint8Array, type = ED25519): Promise<Uint8Array> {
  const data = new Uint8Array([...enc.encode(name), 0x0a, type, ...publicKey]);
  return new Uint8Array(await subtle.digest("SHA-256", data)).slice(0, 4);
}

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): a fixed prefix.
const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/** Reads a signing key in Go's note format; throws with a message naming what is wrong. */
export async function parseSigningKey(text: string): Promise<Signer> {
  const parts = splitKey(text.trim(), 5);
  if (parts?.[0] !== "PRIVATE" || parts[1] !== "KEY") {
    throw new Error("LOG_SIGNING_KEY must look like PRIVATE+KEY+<name>+<key id>+<base64 key>");
  }
  const [, , name = "", id = "", body = ""] = parts;
  const raw = unb64(body);
  if (!KEY_NAME.test(name)) throw new Error("LOG_SIGNING_KEY has an invalid key name");
  if (raw?.length !== 33 || raw[0] !== ED25519) throw new Error("LOG_SIGNING_KEY is not an Ed25519 key");
  const key = await subtle.importKey("pkcs8", new Uint8Array([...PKCS8_PREFIX, ...raw.slice(1)]), "Ed25519", true, [
    "sign",
  ]);
  const jwk = (await subtle.exportKey("jwk", key)) as JsonWebKey;
  const publicKey = unb64url(jwk.x ?? "");
  const keyId = await keyIdOf(name, publicKey);
  if (hex(keyId) !== id.toLowerCase()) throw new Error("LOG_SIGNING_KEY's key id does not match its key");
  return { name, keyId, publicKey, key };
}

/** Splits on the first n − 1 plus signs: the last field is base64, which may hold "+" itself. */
export function splitKey(text: string, n: number): string[] | null {
  const out: string[] = [];
  let rest = text;
  for (let i = 0; i < n - 1; i++) {
    const at = rest.indexOf("+");
    if (at < 0) return null;
    out.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  out.push(rest);
  return out;
}

function unb64url(s: string): Uint8Array {
  const padded = s
    .replaceAll("-", "+")
    .replaceAll("_", "/")
    .padEnd(Math.ceil(s.length / 4) * 4, "=");
  return unb64(padded) ?? new Uint8Array();
}

/** A new key pair in Go's note formats: the private key and its verifier key. */
export async function generateSigningKey(name: string): Promise<{ privateKey: string; verifierKey: string }> {
  if (!KEY_NAME.test(name)) throw new Error(`invalid key name: ${name}`);
  const pair = (await subtle.generateKey("Ed25519", true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = (await subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  const seed = unb64url(jwk.d ?? "");
  const publicKey = unb64url(jwk.x ?? "");
  const id = hex(await keyIdOf(name, publicKey));
  return {
    privateKey: `PRIVATE+KEY+${name}+${id}+${b64(new Uint8Array([ED25519, ...seed]))}`,
    verifierKey: `${name}+${id}+${b64(new Uint8Array([ED25519, ...publicKey]))}`,
  };
}

export function verifierKeyOf(signer: Signer): string {
  return `${signer.name}+${hex(signer.keyId)}+${b64(new Uint8Array([ED25519, ...signer.publicKey]))}`;
}

/** Reads a verifier key line; null if it is not an Ed25519 vkey whose ID matches. */
export async function parseVerifierKey(vkey: string): Promise<Verifier | null> {
  const parts = splitKey(vkey.trim(), 3);
  if (!parts) return null;
  const [name = "", id = "", body = ""] = parts;
  const raw = unb64(body);
  if (!KEY_NAME.test(name) || !raw || raw.length !== 33 || raw[0] !== ED25519) return null;
  const publicKey = raw.slice(1);
  const keyId = await keyIdOf(name, publicKey);
  if (hex(keyId) !== id.toLowerCase()) return null;
  const key = await subtle.importKey("raw", publicKey, "Ed25519", false, ["verify"]);
  return { name, keyId, publicKey, key };
}

/** Signs a note's text with one or more keys (several during a key rotation: one signature line each). */
export async function signNote(text: string, signers: Signer | Signer[]): Promise<string> {
  if (!text.endsWith("\n")) throw new Error("a note's text ends with a newline");
  const lines = await Promise.all(
    (Array.isArray(signers) ? signers : [signers]).map(async (signer) => {
      const sig = new Uint8Array(await subtle.sign("Ed25519", signer.key, enc.encode(text)));
      return `— ${signer.name} ${b64(new Uint8Array([...signer.keyId, ...sig]))}\n`;
    }),
  );
  if (!lines.length) throw new Error("no signing key");
  return `${text}\n${lines.join("")}`;
}

/**
 * The text of a signed note if `verifier` signed it, else null. Signature
 * lines from other keys are allowed (and ignored), as the spec says.
 */
export async function openNote(note: string, verifier: Verifier): Promise<string | null> {
  const parsed = splitNote(note);
  if (!parsed) return null;
  for (const { name, raw } of parsed.signatures) {
    if (name !== verifier.name || raw.length !== 4 + 64 || hex(raw.slice(0, 4)) !== hex(verifier.keyId)) continue;
    if (await subtle.verify("Ed25519", verifier.key, raw.slice(4), enc.encode(parsed.text))) return parsed.text;
  }
  return null;
}

/** A note split into its text and its signature lines (name and raw bytes); null if it is not a note. */
export function splitNote(note: string): { text: string; signatures: { name: string; raw: Uint8Array }[] } | null {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) return null;
  const signatures: { name: string; raw: Uint8Array }[] = [];
  for (const line of note.slice(split + 2, -1).split("\n")) {
    const m = /^— (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    const raw = m ? unb64(m[2] as string) : null;
    if (!m || !raw) return null;
    signatures.push({ name: m[1] as string, raw });
  }
  return { text: note.slice(0, split + 1), signatures };
}

/** The keys (name and 8-hex key ID) whose signature lines a note carries, unverified. */
export function noteSignatures(note: string): string[] {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) return [];
  return note
    .slice(split + 2)
    .split("\n")
    .flatMap((line) => {
      const m = /^— (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
      const raw = m ? unb64(m[2] as string) : null;
      return m && raw && raw.length >= 4 ? [`${m[1]}+${hex(raw.slice(0, 4))}`] : [];
    });
}

/** The same "name+keyid" label for a signer. */
export const signerLabel = (s: Signer): string => `${s.name}+${hex(s.keyId)}`;

export function formatCheckpoint(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${b64(c.root)}\n`;
}

/** Parses a checkpoint body (the note's text); null if malformed. Extension lines are allowed. */
export function parseCheckpoint(text: string): Checkpoint | null {
  const lines = text.split("\n");
  if (lines.length < 4 || lines.at(-1) !== "") return null;
  const [origin = "", size = "", root = ""] = lines;
  const rootBytes = unb64(root);
  if (!origin || !/^(0|[1-9][0-9]*)$/.test(size) || !rootBytes || rootBytes.length !== 32) return null;
  const n = Number(size);
  return Number.isSafeInteger(n) ? { origin, size: n, root: rootBytes } : null;
}
