/**
 * Receipt codes, in two layouts told apart by length alone (docs/scale.md §3).
 *
 *   v2, 20 Crockford characters = 100 bits, shown XXXX-XXXX-XXXX-XXXX-XXXX (issued now):
 *     bits 99..87  shard    (13 bits: up to 8,192 shards)
 *     bits 86..40  counter  (47 bits: 1.4e14 codes per shard, 50 years at 89,000/s on ONE shard)
 *     bits 39..0   check    (first 40 bits of HMAC-SHA256(key, "tillproof/code/v2:" ‖ 60-bit payload))
 *   v1, 16 characters = 80 bits, XXXX-XXXX-XXXX-XXXX (issued before; valid for ever):
 *     bits 79..70 shard (10), 69..40 counter (30), 39..0 check (HMAC over "tillproof/code/v1:" ‖ payload)
 *
 * The payload routes a code to its shard with no lookup; the keyed check makes a
 * random well-formed code pass with probability 2^-40 and rejects typos before
 * any storage is touched. The counter is the code's leaf index + 1 in its
 * shard's log, whichever layout carries it; a shard switches layout once, at a
 * counter it records, so every (shard, counter) has exactly one code.
 */
import { constantTimeEqualBytes, hmacSha256 } from "../kit/crypto.ts";

export type CodeFormat = 1 | 2;

type Layout = { chars: number; shardBits: number; counterBits: number; domain: Uint8Array };

const LAYOUTS: Record<CodeFormat, Layout> = {
  1: { chars: 16, shardBits: 10, counterBits: 30, domain: new TextEncoder().encode("tillproof/code/v1:") },
  2: { chars: 20, shardBits: 13, counterBits: 47, domain: new TextEncoder().encode("tillproof/code/v2:") },
};
const CHECK_BITS = 40;

/** Shards any code can name (v2); v1 codes name only the first V1_MAX_SHARDS. */
export const MAX_SHARDS = 2 ** LAYOUTS[2].shardBits;
export const V1_MAX_SHARDS = 2 ** LAYOUTS[1].shardBits;
/** The last counter each layout can carry. */
export const V1_MAX_COUNTER = 2 ** LAYOUTS[1].counterBits - 1;
export const MAX_COUNTER = 2 ** LAYOUTS[2].counterBits - 1;

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DECODE: Record<string, number> = {};
for (const [i, ch] of [...ALPHABET].entries()) DECODE[ch] = i;
// Crockford's read-alikes.
Object.assign(DECODE, { O: 0, I: 1, L: 1 });

export type CodeParts = { shard: number; counter: number };

/**
 * codeRoute for the browser scripts (plain ES2020, no imports): the receipt
 * page's own check and the independent verifier include it, so the two read a
 * code's shard and log entry as this module does (core/code.test.ts runs it).
 * It trusts the check characters: those scripts compare the result with the
 * proof they were given.
 */
export const BROWSER_CODE_ROUTE = `
// The shard and log entry a code names (its layout by its length).
const route = (code) => {
  let v = 0n;
  for (const ch of code) v = v * 32n + BigInt("${ALPHABET}".indexOf(ch));
  const payload = v >> ${CHECK_BITS}n;
  const bits = code.length === ${LAYOUTS[2].chars} ? ${LAYOUTS[2].counterBits}n : ${LAYOUTS[1].counterBits}n;
  return { shard: Number(payload >> bits), counter: Number(payload & ((1n << bits) - 1n)) };
};
`;

/** The payload (shard ‖ counter) as big-endian bytes: 5 for v1 (40 bits), 8 for v2 (60 bits, top 4 zero). */
function payloadBytes(layout: Layout, { shard, counter }: CodeParts): Uint8Array {
  const value = (BigInt(shard) << BigInt(layout.counterBits)) | BigInt(counter);
  const size = Math.ceil((layout.shardBits + layout.counterBits) / 8);
  const out = new Uint8Array(size);
  for (let i = size - 1, v = value; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

function check(key: string, layout: Layout, payload: Uint8Array): bigint {
  const data = new Uint8Array(layout.domain.length + payload.length);
  data.set(layout.domain);
  data.set(payload, layout.domain.length);
  let v = 0n;
  for (const b of hmacSha256(key, data).subarray(0, 5)) v = (v << 8n) | BigInt(b);
  return v;
}

function toBase32(value: bigint, chars: number): string {
  let out = "";
  for (let i = chars - 1; i >= 0; i--) out += ALPHABET[Number((value >> BigInt(i * 5)) & 31n)];
  return out;
}

/** The compact form, as stored: 20 characters (v2, the default) or 16 (v1). */
export function encodeCode(key: string, parts: CodeParts, format: CodeFormat = 2): string {
  const layout = LAYOUTS[format];
  if (!Number.isInteger(parts.shard) || parts.shard < 0 || parts.shard >= 2 ** layout.shardBits) {
    throw new RangeError(`shard out of range for v${format} codes: ${parts.shard}`);
  }
  if (!Number.isSafeInteger(parts.counter) || parts.counter < 1 || parts.counter >= 2 ** layout.counterBits) {
    throw new RangeError(`counter out of range for v${format} codes: ${parts.counter}`);
  }
  const payload = (BigInt(parts.shard) << BigInt(layout.counterBits)) | BigInt(parts.counter);
  const value = (payload << BigInt(CHECK_BITS)) | check(key, layout, payloadBytes(layout, parts));
  return toBase32(value, layout.chars);
}

/** The printed form: groups of four, joined by dashes. */
export function groupCode(compact: string): string {
  return compact.match(/.{1,4}/g)?.join("-") ?? compact;
}

/** Format, shard and counter of a compact code, without the key (null if it is not one). */
function decode(compact: string): (CodeParts & { format: CodeFormat; check: bigint; code: string }) | null {
  const format: CodeFormat | null = compact.length === 16 ? 1 : compact.length === 20 ? 2 : null;
  if (!format) return null;
  const layout = LAYOUTS[format];
  let value = 0n;
  let code = "";
  for (const ch of compact) {
    const v = DECODE[ch];
    if (v === undefined) return null;
    value = (value << 5n) | BigInt(v);
    code += ALPHABET[v];
  }
  const checkValue = value & ((1n << BigInt(CHECK_BITS)) - 1n);
  const payload = value >> BigInt(CHECK_BITS);
  const counter = Number(payload & ((1n << BigInt(layout.counterBits)) - 1n));
  const shard = Number(payload >> BigInt(layout.counterBits));
  // v2's 100 bits hold a 60-bit payload: the top bits must be zero (one spelling per code).
  if (shard >= 2 ** layout.shardBits || counter < 1) return null;
  return { format, shard, counter, check: checkValue, code };
}

/**
 * Shard, counter and format of a stored compact code, without checking its
 * keyed check (for tools that do not hold CODE_KEY, such as the audit: the log
 * vouches for the record, not the code's check).
 */
export function codeRoute(compact: string): (CodeParts & { format: CodeFormat }) | null {
  if (!/^[0-9A-HJKMNP-TV-Z]+$/.test(compact)) return null;
  const d = decode(compact);
  return d ? { shard: d.shard, counter: d.counter, format: d.format } : null;
}

/**
 * The code range [lo, hi) holding a shard's codes of one layout: in code
 * order, which within one shard and layout is counter order.
 */
export function shardCodeRange(shard: number, format: CodeFormat): { lo: string; hi: string } {
  const layout = LAYOUTS[format];
  const at = (s: number) => toBase32(BigInt(s) << BigInt(layout.counterBits + CHECK_BITS), layout.chars);
  const last = shard + 1 >= 2 ** layout.shardBits;
  return { lo: at(shard), hi: last ? "~" : at(shard + 1) };
}

/** The code range [lo, hi) of one (shard, counter) in one layout: its code, whatever its check. */
export function counterCodeRange(parts: CodeParts, format: CodeFormat): { lo: string; hi: string } {
  const layout = LAYOUTS[format];
  const at = (counter: number) =>
    toBase32(
      ((BigInt(parts.shard) << BigInt(layout.counterBits)) | BigInt(counter)) << BigInt(CHECK_BITS),
      layout.chars,
    );
  return { lo: at(parts.counter), hi: at(parts.counter + 1) };
}

/**
 * Normalizes user input (any case, dashes or spaces, O/I/L read-alikes) and
 * checks the keyed check. Returns null for anything that is not a code issued
 * with this key, without touching storage. 16 characters are v1, 20 are v2.
 */
export function parseCode(key: string, input: string): (CodeParts & { code: string; format: CodeFormat }) | null {
  const d = decode(input.replace(/[-\s]/g, "").toUpperCase());
  if (!d) return null;
  const layout = LAYOUTS[d.format];
  const expected = check(key, layout, payloadBytes(layout, d));
  const asBytes = (v: bigint) => Uint8Array.from({ length: 5 }, (_, i) => Number((v >> BigInt(8 * (4 - i))) & 0xffn));
  if (!constantTimeEqualBytes(asBytes(expected), asBytes(d.check))) return null;
  return { shard: d.shard, counter: d.counter, code: d.code, format: d.format };
}
