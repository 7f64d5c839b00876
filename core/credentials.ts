/**
 * Credential formats. Only hashes are stored; the prefix tells a reader which
 * kind of secret leaked, and carries what is needed to route without a lookup.
 *
 *   tenant key:      tpk_<tenantId>_<secret>
 *   terminal token:  tpt_<shard>_<secret>
 *
 * The secret is 24 random bytes and an 8-byte keyed tag over the prefix, the
 * routing part and those bytes (HMAC-SHA256 with the server's CODE_KEY, in its
 * own domain), base64url: 43 characters. A forged or mistyped credential fails
 * the tag in the Worker, before any body is parsed, any shard is woken or any
 * Postgres connection is opened; a genuine one is then checked against its hash.
 */
import { randomBytes } from "node:crypto";
import { constantTimeEqualBytes, hmacSha256, sha256Hex } from "../kit/crypto.ts";

const RANDOM_BYTES = 24;
const TAG_BYTES = 8;
const DOMAIN = "tillproof/credential/v1:";

function tag(key: string, kind: "tpk" | "tpt", routing: string, random: Uint8Array): Uint8Array {
  const label = new TextEncoder().encode(`${DOMAIN}${kind}_${routing}_`);
  const data = new Uint8Array(label.length + random.length);
  data.set(label);
  data.set(random, label.length);
  return hmacSha256(key, data).subarray(0, TAG_BYTES);
}

function mint(key: string, kind: "tpk" | "tpt", routing: string): string {
  const random = new Uint8Array(randomBytes(RANDOM_BYTES));
  const secret = Buffer.concat([random, tag(key, kind, routing, random)]).toString("base64url");
  return `${kind}_${routing}_${secret}`;
}

/** True when the secret carries its tag for this kind and routing part. */
function tagged(key: string, kind: "tpk" | "tpt", routing: string, secret: string): boolean {
  const bytes = new Uint8Array(Buffer.from(secret, "base64url"));
  if (bytes.length !== RANDOM_BYTES + TAG_BYTES) return false;
  // One spelling per secret: the last character's two spare bits must be zero, or a
  // different string (with a different hash) would carry the same tag.
  if (Buffer.from(bytes).toString("base64url") !== secret) return false;
  const random = bytes.subarray(0, RANDOM_BYTES);
  return constantTimeEqualBytes(tag(key, kind, routing, random), bytes.subarray(RANDOM_BYTES));
}

export function newTenantKey(key: string, tenantId: string): string {
  return mint(key, "tpk", tenantId);
}

export function newTerminalToken(key: string, shard: number): string {
  return mint(key, "tpt", String(shard));
}

/**
 * `legacy`: also accept a well-formed secret without its tag (credentials
 * minted before tags existed) and leave it to the hash check, during a
 * migration only (LEGACY_CREDENTIALS=on): forged ones then cost a lookup again.
 */
export type ParseOptions = { legacy?: boolean };

/** The tenant a key names, if it is well-formed and carries its tag (its hash is checked elsewhere). */
export function parseTenantKey(key: string, credential: string, opts: ParseOptions = {}): { tenantId: string } | null {
  const m = /^tpk_([a-z0-9][a-z0-9-]{1,62})_([A-Za-z0-9_-]{43})$/.exec(credential);
  if (!m?.[1] || !m[2] || !(opts.legacy || tagged(key, "tpk", m[1], m[2]))) return null;
  return { tenantId: m[1] };
}

/** The shard a terminal token names, if it is well-formed and carries its tag. */
export function parseTerminalToken(key: string, credential: string, opts: ParseOptions = {}): { shard: number } | null {
  const m = /^tpt_(0|[1-9]\d{0,3})_([A-Za-z0-9_-]{43})$/.exec(credential);
  if (!m?.[1] || !m[2] || !(opts.legacy || tagged(key, "tpt", m[1], m[2]))) return null;
  return { shard: Number(m[1]) };
}

export function hashSecret(secret: string): string {
  return sha256Hex(secret);
}

export function bearerToken(header: string | undefined | null): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m?.[1] ?? null;
}
