/**
 * Receipt codes: 16 Crockford base32 characters = 80 bits, shown as
 * XXXX-XXXX-XXXX-XXXX.
 *
 *   bits 79..70  shard index   (10 bits: up to 1,024 shards)
 *   bits 69..40  shard counter (30 bits: 1,073,741,823 codes per shard)
 *   bits 39..0   check         (first 40 bits of HMAC-SHA256(key, payload))
 *
 * The payload routes a code to its shard with no lookup; the keyed check makes a
 * random well-formed code pass with probability 2^-40 and rejects typos before
 * any storage is touched. A shard whose counter is exhausted stops issuing
 * rather than reuse a code (see docs/scale.md for the capacity this implies).
 */
import { constantTimeEqualBytes, hmacSha256 } from "./crypto.ts";

export const SHARD_BITS = 10;
export const COUNTER_BITS = 30;
export const MAX_SHARDS = 2 ** SHARD_BITS;
export const MAX_COUNTER = 2 ** COUNTER_BITS - 1;

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DECODE: Record<string, number> = {};
for (const [i, ch] of [...ALPHABET].entries()) DECODE[ch] = i;
// Crockford's read-alikes.
Object.assign(DECODE, { O: 0, I: 1, L: 1 });

const DOMAIN = new TextEncoder().encode("tillproof/code/v1:");

export type CodeParts = { shard: number; counter: number };

function payloadBytes({ shard, counter }: CodeParts): Uint8Array {
  // 40 bits: shard (10) then counter (30), big-endian.
  const value = BigInt(shard) * 2n ** BigInt(COUNTER_BITS) + BigInt(counter);
  const out = new Uint8Array(5);
  for (let i = 4, v = value; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

function check(key: string, payload: Uint8Array): Uint8Array {
  const data = new Uint8Array(DOMAIN.length + payload.length);
  data.set(DOMAIN);
  data.set(payload, DOMAIN.length);
  return hmacSha256(key, data).subarray(0, 5);
}

function toBase32(bytes: Uint8Array): string {
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let out = "";
  for (let i = 15; i >= 0; i--) out += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return out;
}

/** The compact 16-character form, as stored. */
export function encodeCode(key: string, parts: CodeParts): string {
  if (!Number.isInteger(parts.shard) || parts.shard < 0 || parts.shard >= MAX_SHARDS) {
    throw new RangeError(`shard out of range: ${parts.shard}`);
  }
  if (!Number.isInteger(parts.counter) || parts.counter < 1 || parts.counter > MAX_COUNTER) {
    throw new RangeError(`counter out of range: ${parts.counter}`);
  }
  const payload = payloadBytes(parts);
  const bytes = new Uint8Array(10);
  bytes.set(payload);
  bytes.set(check(key, payload), 5);
  return toBase32(bytes);
}

/** The printed form: XXXX-XXXX-XXXX-XXXX. */
export function groupCode(compact: string): string {
  return compact.match(/.{1,4}/g)?.join("-") ?? compact;
}

/**
 * Shard and counter of a stored compact code, without checking its keyed check
 * (for tools that do not hold CODE_KEY, such as the audit: the log vouches for
 * the record, not the code's check).
 */
export function codeRoute(compact: string): CodeParts | null {
  if (!/^[0-9A-HJKMNP-TV-Z]{16}$/.test(compact)) return null;
  let value = 0;
  for (const ch of compact.slice(0, 8)) value = value * 32 + (DECODE[ch] as number);
  return { shard: Math.floor(value / 2 ** COUNTER_BITS), counter: value % 2 ** COUNTER_BITS };
}

/** The first compact code of a shard's range, for scans in code order (= counter order within a shard). */
export function shardCodePrefix(shard: number): string {
  let out = "";
  for (let i = 1; i >= 0; i--) out += ALPHABET[(shard >> (i * 5)) & 31];
  return out;
}

/**
 * Normalizes user input (any case, dashes or spaces, O/I/L read-alikes) and
 * checks the keyed check. Returns null for anything that is not a code we issued
 * with this key, without touching storage.
 */
export function parseCode(key: string, input: string): (CodeParts & { code: string }) | null {
  const cleaned = input.replace(/[-\s]/g, "").toUpperCase();
  if (cleaned.length !== 16) return null;
  let bits = 0n;
  let compact = "";
  for (const ch of cleaned) {
    const v = DECODE[ch];
    if (v === undefined) return null;
    bits = (bits << 5n) | BigInt(v);
    compact += ALPHABET[v];
  }
  const bytes = new Uint8Array(10);
  for (let i = 9, v = bits; i >= 0; i--, v >>= 8n) bytes[i] = Number(v & 0xffn);
  const payload = bytes.subarray(0, 5);
  if (!constantTimeEqualBytes(check(key, payload), bytes.subarray(5))) return null;
  const value = Number(bits >> 40n);
  const shard = Math.floor(value / 2 ** COUNTER_BITS);
  const counter = value % 2 ** COUNTER_BITS;
  if (counter < 1) return null;
  return { shard, counter, code: compact };
}
