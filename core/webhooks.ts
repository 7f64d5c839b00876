/**
 * Tenant webhooks, the pure part (contract: docs/api.md "Tenant webhooks"):
 * which URLs may be called, the secret, the signature, the event body and the
 * retry schedule. Storage is db/webhooks.ts; sending is workers/webhooks/.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { hmacSha256 } from "../kit/crypto.ts";
import { slug } from "./ids.ts";

export const WEBHOOK_EVENTS = ["receipt.persisted"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** A receiver that has not answered 2xx within this is treated as failed (contract: 10 s). */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** Events sent per queue message: bounds one consumer run's subrequests (≤ 10 messages × 50). */
export const EVENTS_PER_MESSAGE = 50;
/** Webhooks a tenant may have: each one multiplies every sale's deliveries. */
export const MAX_WEBHOOKS_PER_TENANT = 10;
/** Retries wait at most this long, so a receiver that comes back is reached within the hour. */
export const MAX_RETRY_DELAY_S = 3_600;

const MAX_URL_LENGTH = 2_048;

/**
 * Why a URL may not be called, or null when it may. https only, to a public
 * name or address; with `allowInsecure` (ALLOW_INSECURE_WEBHOOKS=on, local
 * development) also http, and only then, to loopback. Names that resolve
 * inside a network by convention (localhost, .local, .internal, single labels)
 * are refused like private addresses. The WHATWG parser has already turned
 * 0x7f.1, 2130706433 and friends into dotted IPv4.
 */
export function webhookUrlProblem(raw: string, opts: { allowInsecure: boolean }): string | null {
  if (raw.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  // The URL parser would drop or encode them, so the check would pass on another URL than the one kept.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  if (/[\u0000-\u001f\u007f]/.test(raw)) return "must not contain control characters";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute URL";
  }
  if (url.username || url.password) return "must not carry credentials";
  const host = url.hostname.toLowerCase().replace(/\.+$/, "");
  const loopback = isLoopback(host);
  if (url.protocol === "http:") {
    if (!opts.allowInsecure) return "must be https";
    if (!loopback) return "may be http only to loopback (ALLOW_INSECURE_WEBHOOKS=on)";
    return null;
  }
  if (url.protocol !== "https:") return "must be https";
  if (loopback) return opts.allowInsecure ? null : "must not point to this machine (loopback)";
  if (isPrivateHost(host)) return "must not point to a private or reserved address";
  return null;
}

function isLoopback(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const v4 = ipv4(host) ?? mappedIpv4(host);
  if (v4) return v4[0] === 127;
  return host === "[::1]";
}

const PRIVATE_SUFFIXES = [".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp"];

function isPrivateHost(host: string): boolean {
  const v4 = ipv4(host) ?? mappedIpv4(host);
  if (v4) return isReservedIpv4(v4);
  if (host.startsWith("[")) return isReservedIpv6(host.slice(1, -1));
  if (!host.includes(".")) return true;
  return PRIVATE_SUFFIXES.some((s) => host.endsWith(s));
}

function ipv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m ? m.slice(1).map(Number) : null;
}

/** ::ffff:a.b.c.d, which the URL parser writes as [::ffff:xxxx:yyyy]. */
function mappedIpv4(host: string): number[] | null {
  const m = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(host);
  if (!m) return null;
  const hi = Number.parseInt(m[1] as string, 16);
  const lo = Number.parseInt(m[2] as string, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255];
}

function isReservedIpv4([a, b]: number[]): boolean {
  if (a === undefined || b === undefined) return true;
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    (a === 198 && b === 51) || // documentation (198.51.100/24), with its /16 neighbours
    (a === 203 && b === 0) || // documentation (203.0.113/24)
    a >= 224 // multicast, reserved, broadcast
  );
}

function isReservedIpv6(addr: string): boolean {
  const first = Number.parseInt(addr.split(":")[0] || "0", 16);
  // ::, ::1 and IPv4-compatible forms, NAT64, unique local fc00::/7, link-local fe80::/10, multicast ff00::/8.
  return (
    addr.startsWith("::") ||
    addr.startsWith("64:ff9b:") ||
    (first & 0xfe00) === 0xfc00 ||
    (first & 0xffc0) === 0xfe80 ||
    (first & 0xffc0) === 0xfec0 || // site-local (deprecated)
    addr.startsWith("2001:db8:") || // documentation
    (first & 0xff00) === 0xff00
  );
}

export const webhookInputSchema = z.strictObject({
  url: z.string().min(1).max(MAX_URL_LENGTH),
  events: z
    .array(z.enum(WEBHOOK_EVENTS))
    .min(1)
    .refine((e) => new Set(e).size === e.length, "must not repeat an event"),
  storeIds: z
    .array(slug)
    .min(1)
    .max(1_000)
    .refine((s) => new Set(s).size === s.length, "must not repeat a store")
    .optional()
    .meta({ description: "Only these stores' receipts; all stores when left out" }),
});
export type WebhookInput = z.infer<typeof webhookInputSchema>;

/**
 * The signing secret, derived from the server's key, the webhook's identity
 * and its salt: Postgres holds only the salt, so reading the database does not
 * let anyone sign as Tillproof, and a salt copied to another webhook gives
 * another secret. Shown to the tenant once, at creation.
 */
export function webhookSecret(serverKey: string, webhook: { tenantId: string; id: string }, salt: string): string {
  const label = new TextEncoder().encode(`tillproof/webhook-secret/v1:${webhook.tenantId}/${webhook.id}:${salt}`);
  return `whsec_${Buffer.from(hmacSha256(serverKey, label)).toString("base64url")}`;
}

export const newSecretSalt = (): string => randomBytes(16).toString("base64url");

/** `Tillproof-Signature`: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>. */
export function signatureHeader(secret: string, unixSeconds: number, body: string): string {
  const mac = hmacSha256(secret, new TextEncoder().encode(`${unixSeconds}.${body}`));
  return `t=${unixSeconds},v1=${Buffer.from(mac).toString("hex")}`;
}

/** One event id per receipt: a receiver dedupes on it, across retries and webhooks. */
export const eventIdFor = (code: string): string => `evt_${code.replaceAll("-", "")}`;

export type EventBody<R> = { id: string; type: WebhookEvent; createdAt: string; data: { receipt: R } };

/** The exact bytes sent (and signed): the same on every attempt, only the signature's t changes. */
export function eventBody<R>(id: string, createdAt: string, receipt: R): string {
  const body: EventBody<R> = { id, type: "receipt.persisted", createdAt, data: { receipt } };
  return JSON.stringify(body);
}

/**
 * Seconds before attempt `attempts + 1`: base, doubling, at most an hour,
 * ±20 % so that the deliveries a receiver's outage piled up do not return at
 * one instant. `random` in [0, 1).
 */
export function retryDelaySeconds(attempts: number, baseSeconds: number, random: number): number {
  const plain = Math.min(MAX_RETRY_DELAY_S, baseSeconds * 2 ** Math.max(0, Math.min(attempts - 1, 20)));
  return Math.max(1, Math.round(plain * (0.8 + 0.4 * random)));
}

/** held: its receipt failed the check verify makes (#26), so it was never signed or sent. */
export type DeliveryStatus = "pending" | "delivered" | "failed" | "held";

/** After a failed attempt: keep trying until the delivery is `retryForSeconds` old, then give up (dead letter). */
export function afterFailure(ageSeconds: number, retryForSeconds: number): DeliveryStatus {
  return ageSeconds >= retryForSeconds ? "failed" : "pending";
}

/**
 * One webhooks-queue message: some deliveries of one webhook, and the database
 * that holds them (the receipts database of their shard, db/routing.ts; absent: the primary).
 */
export type WebhookMessage = { tenantId: string; webhookId: string; eventIds: string[]; db?: string };
