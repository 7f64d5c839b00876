/**
 * A token bucket: `rate` tokens a second, holding at most `burst`. Pure, so the
 * shard keeps one per store in memory and the rule is unit-tested here.
 */
export type Bucket = { tokens: number; at: number };

export function takeTokens(
  bucket: Bucket | undefined,
  now: number,
  opts: { rate: number; burst: number; cost?: number },
): { ok: boolean; bucket: Bucket; retryAfterSeconds: number } {
  const cost = opts.cost ?? 1;
  const elapsed = bucket ? Math.max(0, now - bucket.at) / 1000 : Number.POSITIVE_INFINITY;
  const tokens = Math.min(opts.burst, (bucket?.tokens ?? opts.burst) + elapsed * opts.rate);
  if (tokens >= cost) return { ok: true, bucket: { tokens: tokens - cost, at: now }, retryAfterSeconds: 0 };
  return {
    ok: false,
    bucket: { tokens, at: now },
    retryAfterSeconds: Math.max(1, Math.ceil((cost - tokens) / opts.rate)),
  };
}

/**
 * Whose bucket a request counts against: the IPv4 address, or the IPv6 /64
 * (one subscriber gets a whole /64, so per-address buckets would be unlimited).
 */
export function clientKey(ip: string | undefined): string {
  if (!ip) return "unknown";
  if (!ip.includes(":")) return ip;
  const [head = "", tail = ""] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
