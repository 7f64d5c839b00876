import { config } from "../../../core/config.ts";
/**
 * List prices the bench multiplies its counts by. Each carries the page it
 * comes from and when it was read; [A] marks an assumption of ours, not a
 * vendor number. Update the numbers here when the vendors change them.
 */
export type Price = { usd: number; per: string; source: string; read: string; note?: string };

export const PRICES = {
  workersRequests: {
    usd: 0.3,
    per: "million requests",
    source:
      "Cloudflare Workers pricing (developers.cloudflare.com/workers/platform/pricing), Workers Paid, beyond 10 M/month included",
    read: "2026-11",
  },
  workersCpu: {
    usd: 0.02,
    per: "million CPU-ms",
    source: "Cloudflare Workers pricing, Workers Paid standard usage model, beyond 30 M CPU-ms/month included",
    read: "2026-11",
  },
  doRequests: {
    usd: 0.15,
    per: "million requests",
    source:
      "Cloudflare Durable Objects pricing (developers.cloudflare.com/durable-objects/platform/pricing): HTTP requests, each RPC method call and each alarm invocation",
    read: "2026-11",
  },
  doDuration: {
    usd: 12.5,
    per: "million GB-s",
    source: "Cloudflare Durable Objects pricing, duration (128 MB per active object)",
    read: "2026-11",
  },
  doRowsRead: {
    usd: 0.001,
    per: "million rows",
    source: "Cloudflare Durable Objects pricing, SQLite storage backend: rows read (billed since 2026-01-07)",
    read: "2026-11",
  },
  doRowsWritten: {
    usd: 1.0,
    per: "million rows",
    source:
      "Cloudflare Durable Objects pricing, SQLite storage backend: rows written (each index a row touches counts as one more)",
    read: "2026-11",
  },
  doStorage: {
    usd: 0.2,
    per: "GB-month",
    source: "Cloudflare Durable Objects pricing, SQLite stored data",
    read: "2026-11",
    note: "[A] checked against the pricing page as remembered, not re-read",
  },
  queueOps: {
    usd: 0.4,
    per: "million operations",
    source:
      "Cloudflare Queues pricing (developers.cloudflare.com/queues/platform/pricing): an operation per 64 KB written, read or deleted; ≈ 3 per message",
    read: "2026-11",
  },
  r2ClassA: {
    usd: 4.5,
    per: "million operations",
    source: "Cloudflare R2 pricing (developers.cloudflare.com/r2/pricing): Class A (PutObject), Standard storage",
    read: "2026-11",
  },
  r2ClassB: {
    usd: 0.36,
    per: "million operations",
    source: "Cloudflare R2 pricing: Class B (GetObject), Standard storage",
    read: "2026-12",
  },
  r2Storage: {
    usd: 0.015,
    per: "GB-month",
    source: "Cloudflare R2 pricing, Standard storage; no egress fee",
    read: "2026-11",
  },
  neonCompute: {
    usd: 0.222,
    per: "CU-hour",
    source: "Neon plans (neon.com/docs/introduction/plans), Scale plan; Launch is $0.106",
    read: "2026-11",
    note: "[A] 1 CU ≈ 1 vCPU (4 GB RAM); the brief's ~$0.16 is an older list price",
  },
  neonStorage: {
    usd: 0.35,
    per: "GB-month",
    source: "Neon plans (neon.com/docs/introduction/plans), Launch and Scale",
    read: "2026-11",
  },
} satisfies Record<string, Price>;

/** Our own assumptions in the cost model, printed with the result. */
export const ASSUMPTIONS = {
  /** Postgres CPU is bought as always-on compute; a production primary runs at about this utilization. */
  neonUtilization: 0.5,
  /** Hot rows stay in Neon HOT_DAYS (7) and the day being written, then go to the archive (docs/archive.md). */
  neonRetentionMonths: (config({}).HOT_DAYS + 1) / 30.4,
  /** Before the archive they stayed 35 days (docs/scale.md §6), for the comparison line. */
  neonRetentionMonthsBefore: 35 / 30.4,
  /** An archived receipt in Parquet, measured by `npm run bench:archive` (2026-12-07: 264 B). */
  archiveBytesPerReceipt: 264,
  /** Idempotency keys live ≤ 25 h in the shard's runs (durable-objects/idempotency.ts IDEMPOTENCY_TTL_MS). */
  idempotencyRetentionMonths: 25 / 730,
  /** A key in a run: 32 hex of key hash, 64 of body hash, the counter, JSON punctuation, and 4 B of fingerprint. */
  idempotencyBytes: 120,
  /** Stores in the country (2.5 M terminals at ≈ 5 a store): each moves its head once per mark at most. */
  stores: 500_000,
  /** A shard writes out keys and heads every 30 minutes (durable-objects/shard.ts MARK_MS). */
  markSeconds: 1_800,
  /**
   * The log keeps hashes for ever, and the archive receipts for their
   * retention (5–10 years) (32 B a receipt in full tiles, plus upper
   * levels' 1/256). Both priced here for one year of keeping; each further year adds as much.
   */
  logRetentionMonths: 12,
  /** Duration: a shard is billed while an event runs; we charge each DO event the 50 %-load p50 latency. */
  doMemoryGb: 0.128,
};
