/**
 * Credential formats. Only hashes are stored; the prefix tells a reader which
 * kind of secret leaked, and carries what is needed to route without a lookup.
 *
 *   tenant key:      tpk_<tenantId>_<secret>
 *   terminal token:  tpt_<shard>_<secret>
 */
import { randomSecret, sha256Hex } from "./crypto.ts";

export function newTenantKey(tenantId: string): string {
  return `tpk_${tenantId}_${randomSecret()}`;
}

export function newTerminalToken(shard: number): string {
  return `tpt_${shard}_${randomSecret()}`;
}

export function parseTenantKey(key: string): { tenantId: string } | null {
  const m = /^tpk_([a-z0-9][a-z0-9-]{1,62})_[A-Za-z0-9_-]{43}$/.exec(key);
  return m?.[1] ? { tenantId: m[1] } : null;
}

export function parseTerminalToken(token: string): { shard: number } | null {
  const m = /^tpt_(\d{1,4})_[A-Za-z0-9_-]{43}$/.exec(token);
  return m?.[1] ? { shard: Number(m[1]) } : null;
}

export function hashSecret(secret: string): string {
  return sha256Hex(secret);
}

export function bearerToken(header: string | undefined | null): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m?.[1] ?? null;
}
