/**
 * The cost model: counts measured in a run, times list prices (prices.ts).
 * Pure, so the same arithmetic prices the 50 % phase and the phases at
 * production's per-shard rates.
 */
import { PART_ROWS } from "../../../core/archive.ts";
import { ASSUMPTIONS, PRICES } from "./prices.ts";

/** Everything per receipt except where named. */
export type CostInputs = {
  httpRequests: number;
  consumerInvocations: number;
  workerdCpuMs: number;
  doCalls: number;
  doCallsBasis: string;
  /** Seconds of DO duration billed per receipt. */
  doEventSec: number;
  rowsWritten: number;
  rowsWrittenBasis: string;
  rowsRead: number;
  queueMessages: number;
  /** Queue operations per message (3 per 64 KB written, read, deleted). */
  opsPerMessage: number;
  queueBasis: string;
  postgresCpuMs: number;
  postgresBytesPerRow: number;
};

export type CostLine = { component: string; perMillion: number; basis: string };

const M = 1e6;
const r = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

export function priceReceipts(c: CostInputs): { lines: CostLine[]; total: number } {
  const lines: CostLine[] = [
    {
      component: "Workers requests",
      perMillion: (c.httpRequests + c.consumerInvocations) * PRICES.workersRequests.usd,
      basis: `${r(c.httpRequests + c.consumerInvocations)} per receipt (HTTP ${r(c.httpRequests)} + consumer invocations ${r(c.consumerInvocations, 4)})`,
    },
    {
      component: "Workers CPU (upper bound)",
      perMillion: c.workerdCpuMs * PRICES.workersCpu.usd,
      basis: `${r(c.workerdCpuMs)} CPU-ms per receipt = all of workerd's CPU in the 50 % phase, DO included`,
    },
    {
      component: "DO requests",
      perMillion: c.doCalls * PRICES.doRequests.usd,
      basis: `${r(c.doCalls)} per receipt: ${c.doCallsBasis}`,
    },
    {
      component: "DO duration [A]",
      perMillion: ((c.doEventSec * ASSUMPTIONS.doMemoryGb * M) / M) * PRICES.doDuration.usd,
      basis: "each DO event billed the 50 %-load p50 × 128 MB",
    },
    {
      component: "DO SQLite rows written",
      perMillion: c.rowsWritten * PRICES.doRowsWritten.usd,
      basis: `${r(c.rowsWritten)} rows/receipt: ${c.rowsWrittenBasis}`,
    },
    {
      component: "DO SQLite rows read",
      perMillion: c.rowsRead * PRICES.doRowsRead.usd,
      basis: `${r(c.rowsRead, 2)} rows/receipt`,
    },
    {
      component: "DO SQLite storage [A]",
      perMillion:
        ((M * ASSUMPTIONS.idempotencyBytes) / 1e9) * ASSUMPTIONS.idempotencyRetentionMonths * PRICES.doStorage.usd,
      basis: `≈ ${ASSUMPTIONS.idempotencyBytes} B of idempotency run per key, kept 25 h (records leave the ring within minutes)`,
    },
    {
      // A full tile (256 hashes) is one PUT; upper levels add 1/256 of that again.
      component: "R2 log tiles: writes",
      perMillion: (M / 256) * (1 + 1 / 256) * (PRICES.r2ClassA.usd / M),
      basis: "one PUT per 256 receipts (a full level-0 tile), + 1/256 for upper levels",
    },
    {
      component: "R2 log tiles: storage [A]",
      perMillion: ((M * 32 * (1 + 1 / 256)) / 1e9) * ASSUMPTIONS.logRetentionMonths * PRICES.r2Storage.usd,
      basis: `32 B per receipt kept ${ASSUMPTIONS.logRetentionMonths} months (tiles are kept for ever)`,
    },
    {
      // Parts of PART_ROWS receipts: one PUT each, read back once (GET) before the day is dropped.
      component: "R2 archive: writes",
      perMillion: (M / PART_ROWS) * ((PRICES.r2ClassA.usd + PRICES.r2ClassB.usd) / M),
      basis: `one PUT and one read-back GET per ${PART_ROWS} receipts (a part), manifests negligible`,
    },
    {
      component: "R2 archive: storage [A]",
      perMillion:
        ((M * ASSUMPTIONS.archiveBytesPerReceipt) / 1e9) * ASSUMPTIONS.logRetentionMonths * PRICES.r2Storage.usd,
      basis: `${ASSUMPTIONS.archiveBytesPerReceipt} B per receipt in Parquet kept ${ASSUMPTIONS.logRetentionMonths} months (each further year adds as much)`,
    },
    {
      component: "Queue operations",
      perMillion: c.queueMessages * c.opsPerMessage * PRICES.queueOps.usd,
      basis: c.queueBasis,
    },
    {
      component: "Neon compute [A]",
      perMillion: ((c.postgresCpuMs / 1000 / 3600) * PRICES.neonCompute.usd * M) / ASSUMPTIONS.neonUtilization / M,
      basis: `${r(c.postgresCpuMs)} Postgres CPU-ms per receipt, bought at ${ASSUMPTIONS.neonUtilization * 100} % utilization`,
    },
    {
      component: "Neon storage [A]",
      perMillion: ((M * c.postgresBytesPerRow) / 1e9) * ASSUMPTIONS.neonRetentionMonths * PRICES.neonStorage.usd,
      basis: `${Math.round(c.postgresBytesPerRow)} B per row (heap + indexes) kept ${r(ASSUMPTIONS.neonRetentionMonths, 2)} months`,
    },
  ];
  return { lines, total: lines.reduce((s, l) => s + (Number.isFinite(l.perMillion) ? l.perMillion : 0), 0) };
}

/**
 * Rows a mark writes per receipt, in production: its idempotency pages and
 * fingerprints per key (measured), written once and deleted once when the run
 * expires, plus one `stores` row per store that moved since the last mark
 * ([A] every store on the shard, every 10 minutes).
 */
export function markRowsPerReceipt(o: { idemRowsPerKey: number; perShardRate: number; shards: number }): {
  idempotency: number;
  heads: number;
} {
  const storesPerShard = ASSUMPTIONS.stores / o.shards;
  const receiptsPerMark = o.perShardRate * ASSUMPTIONS.markSeconds;
  return {
    idempotency: 2 * o.idemRowsPerKey,
    heads: Math.min(storesPerShard, receiptsPerMark) / receiptsPerMark,
  };
}
