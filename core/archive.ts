/**
 * The archive's layout (#27, docs/archive.md): a day's receipts leave Postgres
 * as Parquet objects in R2, one per shard, day and part, each sorted by the
 * shard's counter. Pure: what the objects are called, what a row holds and how
 * a record goes in and comes back out exactly as it was hashed.
 */
import { type FileMetaData, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import { z } from "zod";
import type { ChainRecord } from "./receipt.ts";

/** Rows per object at most: a part's rows are held in memory once while it is written (a Worker has 128 MB). */
export const PART_ROWS = 20_000;
/** Rows per row group: one code's lookup reads one group (about 100 kB). */
export const ROW_GROUP_ROWS = 500;

/** The newest UTC day that may leave Postgres: HOT_DAYS before today. */
export function lastArchivableDay(hotDays: number, now: number): string {
  return new Date(now - hotDays * 86_400_000).toISOString().slice(0, 10);
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
export const daySchema = z.string().regex(DAY, "a UTC day, YYYY-MM-DD");

/** `archive/v1/day=2026-12-01/shard=00042/part=000.parquet`: Hive-style, so engines see day and shard as columns. */
/**
 * One object's key. A receipts database's objects carry its name (`part=000.r1.parquet`): a
 * shard's day sits in one database unless a layout was made to start on a day already under way,
 * and even then no database's object overwrites another's.
 */
export function objectKey(day: string, shard: number, part: number, database = "primary"): string {
  const name = `part=${String(part).padStart(3, "0")}${database === "primary" ? "" : `.${database}`}`;
  return `archive/v1/day=${day}/shard=${String(shard).padStart(5, "0")}/${name}.parquet`;
}

/** The day's manifest of one database's objects: the primary's `manifest.json`, a receipts database's `manifest-<name>.json`. */
export function manifestKey(day: string, database = "primary"): string {
  return `archive/v1/day=${day}/${database === "primary" ? "manifest" : `manifest-${database}`}.json`;
}

export const archivedObjectSchema = z.object({
  key: z.string(),
  shard: z.number().int().min(0),
  part: z.number().int().min(0),
  rows: z.number().int().min(1),
  firstCounter: z.number().int().min(1),
  lastCounter: z.number().int().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().min(1),
});
export type ArchivedObject = z.infer<typeof archivedObjectSchema>;

export const manifestSchema = z.object({
  format: z.literal("tillproof-archive/v1"),
  day: daySchema,
  rows: z.number().int().min(0),
  objects: z.array(archivedObjectSchema),
});
export type Manifest = z.infer<typeof manifestSchema>;

/**
 * The shards whose archived counters of a day leave gaps. A shard's receipts of
 * a day have consecutive counters, so a counter between its first and last that
 * no object holds is a receipt still on its way (in its shard, or quarantined).
 * The day must wait for it: once dropped, the replay guard (migrations/0023)
 * would take that counter for one the archive holds and skip it.
 */
export function counterGaps(
  objects: Pick<ArchivedObject, "shard" | "rows" | "firstCounter" | "lastCounter">[],
): { shard: number; first: number; last: number; missing: number }[] {
  const byShard = new Map<number, { first: number; last: number; rows: number }>();
  for (const o of objects) {
    const s = byShard.get(o.shard) ?? { first: o.firstCounter, last: o.lastCounter, rows: 0 };
    byShard.set(o.shard, {
      first: Math.min(s.first, o.firstCounter),
      last: Math.max(s.last, o.lastCounter),
      rows: s.rows + o.rows,
    });
  }
  return [...byShard]
    .map(([shard, s]) => ({ shard, first: s.first, last: s.last, missing: s.last - s.first + 1 - s.rows }))
    .filter((g) => g.missing > 0)
    .sort((a, b) => a.shard - b.shard);
}

export function manifestOf(day: string, objects: ArchivedObject[]): Manifest {
  const sorted = [...objects].sort((a, b) => a.shard - b.shard || a.part - b.part);
  return { format: "tillproof-archive/v1", day, rows: sorted.reduce((n, o) => n + o.rows, 0), objects: sorted };
}

/** One archived receipt: its place in its shard's log, the record as hashed, and its hash. */
export type ArchivedReceipt = { counter: number; record: ChainRecord; hash: string };

const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const text = (v: string | undefined) => v ?? null;

/**
 * The receipts of one object as Parquet (sorted by counter; the caller gives them
 * in order). Columns are named as in Postgres; JSON columns keep the text, so a
 * record comes back byte for byte. No statistics on JSON and hashes: Parquet
 * keeps JSON bounds whole, which made the footer twice the 64 kB first read.
 */
export function encodeObject(rows: ArchivedReceipt[]): ArrayBuffer {
  const col = <T>(f: (r: ArchivedReceipt) => T) => rows.map(f);
  return parquetWriteBuffer({
    rowGroupSize: ROW_GROUP_ROWS,
    statisticsTruncateLength: 64,
    createdBy: "tillproof archive v1",
    columnData: [
      { name: "counter", type: "INT64", nullable: false, data: col((r) => BigInt(r.counter)) },
      { name: "code", type: "STRING", nullable: false, data: col((r) => r.record.code) },
      { name: "received_at", type: "TIMESTAMP", nullable: false, data: col((r) => new Date(r.record.receivedAt)) },
      { name: "tenant_id", type: "STRING", nullable: false, data: col((r) => r.record.tenantId) },
      { name: "store_id", type: "STRING", nullable: false, data: col((r) => r.record.storeId) },
      { name: "terminal_id", type: "STRING", nullable: false, data: col((r) => r.record.terminalId) },
      { name: "seq", type: "INT64", nullable: false, data: col((r) => BigInt(r.record.seq)) },
      { name: "issued_at", type: "TIMESTAMP", nullable: false, data: col((r) => new Date(r.record.issuedAt)) },
      { name: "currency", type: "STRING", nullable: false, data: col((r) => r.record.currency) },
      { name: "total", type: "INT64", nullable: false, data: col((r) => BigInt(r.record.total)) },
      { name: "cashier", type: "STRING", data: col((r) => text(r.record.cashier)) },
      {
        name: "items",
        type: "JSON",
        nullable: false,
        statistics: false,
        data: col((r) => JSON.stringify(r.record.items)),
      },
      {
        name: "payments",
        type: "JSON",
        nullable: false,
        statistics: false,
        data: col((r) => JSON.stringify(r.record.payments)),
      },
      { name: "hash", type: "STRING", nullable: false, statistics: false, data: col((r) => r.hash) },
      { name: "prev_hash", type: "STRING", nullable: false, statistics: false, data: col((r) => r.record.prevHash) },
      { name: "kind", type: "STRING", data: col((r) => text(r.record.kind)) },
      { name: "refers_to", type: "STRING", data: col((r) => text(r.record.refersTo)) },
      { name: "reason", type: "STRING", data: col((r) => text(r.record.reason)) },
      { name: "offline", type: "JSON", statistics: false, data: col((r) => json(r.record.offline)) },
      { name: "late", type: "BOOLEAN", data: col((r) => (r.record.late === true ? true : null)) },
    ],
  });
}

type Row = {
  counter: bigint;
  code: string;
  received_at: Date;
  tenant_id: string;
  store_id: string;
  terminal_id: string;
  seq: bigint;
  issued_at: Date;
  currency: string;
  total: bigint;
  cashier: string | null;
  items: string;
  payments: string;
  hash: string;
  prev_hash: string;
  kind: string | null;
  refers_to: string | null;
  reason: string | null;
  offline: string | null;
  late: boolean | null;
};

/** A row back into the record exactly as the shard built it (optional fields only when set, as db/receipts.ts). */
export function receiptOfRow(row: Row): ArchivedReceipt {
  const record: ChainRecord = {
    v: 1,
    code: row.code,
    tenantId: row.tenant_id,
    storeId: row.store_id,
    terminalId: row.terminal_id,
    seq: Number(row.seq),
    issuedAt: row.issued_at.toISOString(),
    receivedAt: row.received_at.toISOString(),
    currency: row.currency,
    total: Number(row.total),
    items: JSON.parse(row.items),
    payments: JSON.parse(row.payments),
    prevHash: row.prev_hash,
  };
  if (row.cashier !== null) record.cashier = row.cashier;
  if (row.kind !== null) record.kind = row.kind as NonNullable<ChainRecord["kind"]>;
  if (row.refers_to !== null) record.refersTo = row.refers_to;
  if (row.reason !== null) record.reason = row.reason;
  if (row.offline !== null) record.offline = JSON.parse(row.offline);
  if (row.late === true) record.late = true;
  return { counter: Number(row.counter), record, hash: row.hash };
}

/** Where Parquet rows are read from: the whole object, or ranges of it in R2. */
export type ParquetFile = {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer> | ArrayBuffer;
};

/** Rows [rowStart, rowEnd) of an object (all of them by default). */
export async function decodeRows(
  file: ParquetFile,
  range: { rowStart?: number; rowEnd?: number; metadata?: FileMetaData } = {},
): Promise<ArchivedReceipt[]> {
  const rows = (await parquetReadObjects({ file, ...range, utf8: true })) as Row[];
  return rows.map(receiptOfRow);
}

/** An object's footer: its tail is read first, and the footer's own length again only if larger. */
export function readFooter(file: ParquetFile): Promise<FileMetaData> {
  return parquetMetadataAsync(file, { initialFetchSize: 64 * 1024 });
}

/** The rows of the one row group whose counters span `counter` (the footer's statistics), if any. */
export function rowGroupOf(metadata: FileMetaData, counter: number): { rowStart: number; rowEnd: number } | null {
  const wanted = BigInt(counter);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    const stats = group.columns[0]?.meta_data?.statistics;
    const [lo, hi] = [stats?.min_value, stats?.max_value];
    if (typeof lo === "bigint" && typeof hi === "bigint" && wanted >= lo && wanted <= hi) return { rowStart, rowEnd };
    rowStart = rowEnd;
  }
  return null;
}

/** One receipt of an object by its counter: the footer (given, or read) and then one row group. */
export async function findInObject(
  file: ParquetFile,
  counter: number,
  metadata?: FileMetaData,
): Promise<ArchivedReceipt | null> {
  const footer = metadata ?? (await readFooter(file));
  const group = rowGroupOf(footer, counter);
  if (!group) return null;
  const rows = await decodeRows(file, { ...group, metadata: footer });
  return rows.find((r) => r.counter === counter) ?? null;
}
