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
