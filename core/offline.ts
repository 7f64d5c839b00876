/**
 * Offline receipts and signed QR codes (contract v1.2 "Offline receipts"): the
 * exact texts that are signed, the two printed payloads, and their checks.
 * Pure, WebCrypto only, so the gateway, the terminal client and the
 * independent verifier share one definition of every byte.
 */
import { z } from "zod";
import { fromBase64, fromBase64Url, toBase64, toBase64Url } from "../kit/base64.ts";

const enc = new TextEncoder();
const ED25519 = { name: "Ed25519" } as const;

/** What a terminal certificate binds: the terminal, its key exactly as registered, and until when. */
export type CertifiedTerminal = {
  tenantId: string;
  storeId: string;
  terminalId: string;
  /** Standard base64 of the raw 32-byte key, exactly as sent at registration. */
  publicKey: string;
  /** RFC 3339. */
  notAfter: string;
};

export const certificateText = (c: CertifiedTerminal): string =>
  `tillproof/terminal-cert/v1\n${c.tenantId}\n${c.storeId}\n${c.terminalId}\n${c.publicKey}\n${c.notAfter}\n`;

/** What a terminal signs for one offline receipt. */
export type OfflineSigned = {
  tenantId: string;
  storeId: string;
  terminalId: string;
  terminalSeq: number;
  /** Kept and returned exactly as sent. */
  signedAt: string;
  currency: string;
  total: number;
  /** Hex SHA-256 of the RFC 8785 form of the body without `offline` (and without a batch entry's idempotencyKey). */
  bodyHash: string;
};

export const offlineReceiptText = (o: OfflineSigned): string =>
  `tillproof/offline-receipt/v1\n${o.tenantId}\n${o.storeId}\n${o.terminalId}\n${o.terminalSeq}\n${o.signedAt}\n${o.currency}\n${o.total}\n${o.bodyHash}\n`;

/** What the gateway signs for every receipt's printed QR code. */
export type QrSigned = { code: string; receivedAt: string; currency: string; total: number; hash: string };

export const receiptQrText = (q: QrSigned): string =>
  `tillproof/receipt-qr/v1\n${q.code}\n${q.receivedAt}\n${q.currency}\n${q.total}\n${q.hash}\n`;

const rfc3339 = z.iso.datetime({ offset: true, message: "must be an RFC 3339 time" });
const hexHash = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");
const base64Of = (bytes: number, what: string) =>
  z.string().refine((s) => fromBase64(s)?.length === bytes, `must be standard base64 of ${what}`);

export const publicKeySchema = base64Of(32, "a raw 32-byte Ed25519 public key").meta({
  description: "v1.2: the terminal's Ed25519 public key (standard base64 of its 32 raw bytes)",
});
const signature = base64Of(64, "a 64-byte Ed25519 signature");

/** `offline` in a batch entry. */
export const offlineSchema = z
  .strictObject({
    terminalSeq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    signedAt: rfc3339,
    signature,
  })
  .meta({ description: "v1.2: an offline receipt, signed by the terminal's key (batch entries only)" });
export type OfflineProof = z.infer<typeof offlineSchema>;

/** The `/o` QR payload: every field the check needs, in the contract's order. */
export const offlinePayloadSchema = z.strictObject({
  v: z.literal(1),
  t: z.string(),
  s: z.string(),
  d: z.string(),
  n: z.number().int().min(1),
  a: rfc3339,
  c: z.string(),
  m: z.number().int(),
  h: hexHash,
  k: base64Of(32, "a public key"),
  x: signature,
  e: rfc3339,
  g: signature,
});
export type OfflinePayload = z.infer<typeof offlinePayloadSchema>;

/** The signed QR payload of an issued receipt. */
export const signedQrPayloadSchema = z.strictObject({
  v: z.literal(1),
  c: z.string(),
  r: rfc3339,
  y: z.string(),
  m: z.number().int(),
  h: hexHash,
  g: signature,
});
export type SignedQrPayload = z.infer<typeof signedQrPayloadSchema>;

export function offlinePayload(
  o: OfflineSigned,
  cert: { publicKey: string; certificate: string; notAfter: string },
  sig: string,
): OfflinePayload {
  return {
    v: 1,
    t: o.tenantId,
    s: o.storeId,
    d: o.terminalId,
    n: o.terminalSeq,
    a: o.signedAt,
    c: o.currency,
    m: o.total,
    h: o.bodyHash,
    k: cert.publicKey,
    x: cert.certificate,
    e: cert.notAfter,
    g: sig,
  };
}

export const signedQrPayload = (q: QrSigned, sig: string): SignedQrPayload => ({
  v: 1,
  c: q.code,
  r: q.receivedAt,
  y: q.currency,
  m: q.total,
  h: q.hash,
  g: sig,
});

/** base64url (no padding) of the payload's UTF-8 JSON, keys in the order given. */
export const encodePayload = (p: OfflinePayload | SignedQrPayload): string =>
  toBase64Url(enc.encode(JSON.stringify(p)));

function decode<T>(schema: z.ZodType<T>, text: string): T | null {
  const bytes = fromBase64Url(text);
  if (!bytes) return null;
  try {
    const parsed = schema.safeParse(
      JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)),
    );
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The payload after `#` in a printed URL (or the bare payload), or null. */
const fragment = (urlOrPayload: string): string => urlOrPayload.slice(urlOrPayload.indexOf("#") + 1);
export const decodeOfflinePayload = (text: string): OfflinePayload | null =>
  decode(offlinePayloadSchema, fragment(text));
export const decodeSignedQr = (text: string): SignedQrPayload | null => decode(signedQrPayloadSchema, fragment(text));

/** Ed25519 over the UTF-8 text; false for a malformed key or signature, never a throw. */
export async function verifyText(publicKey: Uint8Array, sig: Uint8Array, text: string): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey("raw", publicKey, ED25519, false, ["verify"]);
    return await crypto.subtle.verify(ED25519, key, sig, enc.encode(text));
  } catch {
    return false;
  }
}

/** Standard base64 of the Ed25519 signature over the UTF-8 text. */
export async function signText(key: CryptoKey, text: string): Promise<string> {
  return toBase64(new Uint8Array(await crypto.subtle.sign(ED25519, key, enc.encode(text))));
}

const bytesOf = (b64: string): Uint8Array => fromBase64(b64) ?? new Uint8Array();

async function anyKey(trusted: readonly Uint8Array[], sig: string, text: string): Promise<boolean> {
  for (const key of trusted) if (await verifyText(key, bytesOf(sig), text)) return true;
  return false;
}

/** What an offline QR's check found: each part on its own, so a page can say which passed. */
export type OfflineCheck = { certificate: boolean; signature: boolean; inValidity: boolean };

/**
 * Checks a `/o` payload with nothing but the gateway's certificate keys (the
 * current one and any retired ones, so certificates signed before a rotation
 * still check).
 */
export async function checkOfflinePayload(p: OfflinePayload, trusted: readonly Uint8Array[]): Promise<OfflineCheck> {
  const certificate = await anyKey(
    trusted,
    p.x,
    certificateText({ tenantId: p.t, storeId: p.s, terminalId: p.d, publicKey: p.k, notAfter: p.e }),
  );
  const signed: OfflineSigned = {
    tenantId: p.t,
    storeId: p.s,
    terminalId: p.d,
    terminalSeq: p.n,
    signedAt: p.a,
    currency: p.c,
    total: p.m,
    bodyHash: p.h,
  };
  const sigOk = await verifyText(bytesOf(p.k), bytesOf(p.g), offlineReceiptText(signed));
  return { certificate, signature: sigOk, inValidity: Date.parse(p.a) <= Date.parse(p.e) };
}

export const checkSignedQr = (p: SignedQrPayload, trusted: readonly Uint8Array[]): Promise<boolean> =>
  anyKey(trusted, p.g, receiptQrText({ code: p.c, receivedAt: p.r, currency: p.y, total: p.m, hash: p.h }));
