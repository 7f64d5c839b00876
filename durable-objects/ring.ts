/**
 * The batch ring: what a shard holds, one SQLite row per group commit. Batch
 * n lives in slot n mod RING_SLOTS and is overwritten (one row written, no
 * delete) only once it is dead: Postgres confirmed all its receipts, and its
 * idempotency keys and store heads were written out by a mark (shard.ts).
 *
 * In memory: the live batches (counter ranges and slots, never their records)
 * and which of their receipts Postgres confirmed. After a restart, batches
 * after the stored watermark count as unconfirmed; the pump's startup pass
 * sends them again and Postgres ignores what it has.
 */
import type { OutboxReceipt } from "../core/outbox.ts";
import type { LogHead, ShardTables } from "./tables.ts";
import { Watermark } from "./watermark.ts";

/** One receipt in a ring row: its counter, hash and canonical record, and the idempotency key's and body's hashes. */
export type RingEntry = { counter: number; hash: string; record: string; keyHash?: string; bodyHash?: string };
/** How a row stores an entry (one letter a field: a row holds up to thousands). Only encode and decode see it. */
export type RingWireEntry = { c: number; h: string; r: string; f?: string; b?: string };

export const encodeEntries = (entries: readonly RingEntry[]): string =>
  JSON.stringify(
    entries.map((e): RingWireEntry => ({ c: e.counter, h: e.hash, r: e.record, f: e.keyHash, b: e.bodyHash })),
  );

export const decodeEntries = (json: string): RingEntry[] =>
  (JSON.parse(json) as RingWireEntry[]).map((w) => {
    const e: RingEntry = { counter: w.c, hash: w.h, record: w.r };
    if (w.f !== undefined) e.keyHash = w.f;
    if (w.b !== undefined) e.bodyHash = w.b;
    return e;
  });

/** The bytes `entry` takes in its row's JSON (UTF-8, without the comma between entries). */
export const entryBytes = (entry: RingEntry): number => utf8.encode(encodeEntries([entry])).length - 2;
const utf8 = new TextEncoder();

type Live = { batchNo: number; slot: number; first: number; count: number; left: number };

/** Batch sizes are counted in these buckets (upper bounds), for the bench and /v1/ops/pipeline. */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, Number.POSITIVE_INFINITY];
export type BatchStats = { batches: number; receipts: number; sizes: Record<string, number> };

export const RING_SLOTS = 262_144;
const PARSED_BATCHES = 16;

export class BatchRing {
  /** Live batches in batch order, from index `head` on (dead ones before it are dropped in bulk). */
  private live: Live[] = [];
  private head = 0;
  /** Index of the first live batch not yet known to be confirmed in full. */
  private unconfirmedFrom = 0;
  /** Receipts held and not yet confirmed (the sum of the live batches' `left`). */
  private unconfirmed = 0;
  /** The last few batches read, parsed (oldest first). */
  private readonly parsed = new Map<number, RingEntry[]>();
  /** Counters of live batches that Postgres confirmed. */
  private confirmed = new Set<number>();
  private nextBatch: number;
  /** Idempotency keys and store heads of batches up to here are written out. */
  markedBatch: number;
  /** Every batch up to here is confirmed in Postgres (stored lazily: watermark.ts). */
  private readonly persisted: Watermark;
  private sizes = BATCH_BUCKETS.map(() => 0);
  private committed = { batches: 0, receipts: 0 };

  private readonly tables: ShardTables;
  private readonly slots: number;

  constructor(tables: ShardTables, meta: Record<string, number>, slots = RING_SLOTS) {
    this.tables = tables;
    this.slots = slots;
    this.markedBatch = meta.marked_batch ?? 0;
    this.persisted = new Watermark(tables, "persisted_batch", meta);
    const rows = tables.batchesAfter(Math.min(this.markedBatch, this.persistedBatch));
    for (const r of rows) {
      const left = r.batch_no <= this.persistedBatch ? 0 : r.count;
      this.live.push({ batchNo: r.batch_no, slot: r.slot, first: r.first_counter, count: r.count, left });
      this.unconfirmed += left;
    }
    while (this.live[this.unconfirmedFrom]?.left === 0) this.unconfirmedFrom++;
    this.nextBatch = Math.max(this.markedBatch, this.persistedBatch, rows.at(-1)?.batch_no ?? 0) + 1;
  }

  /** Receipts held and not yet confirmed by Postgres. */
  get held(): number {
    return this.unconfirmed;
  }

  get lastBatch(): number {
    return this.nextBatch - 1;
  }

  /** Whether the next batch's slot is free (its previous occupant is dead). */
  hasRoom(): boolean {
    const oldest = this.live[this.head];
    return !oldest || this.nextBatch - oldest.batchNo < this.slots;
  }

  /** True when only a mark stands between the ring and a free slot. */
  get waitsForMark(): boolean {
    const oldest = this.live[this.head];
    return !!oldest && oldest.left === 0 && oldest.batchNo > this.markedBatch;
  }

  /**
   * Writes a batch (inside the caller's transaction). Returns what to run once
   * that transaction committed.
   */
  put(entries: RingEntry[], log: LogHead): () => void {
    if (!this.hasRoom()) throw new Error("batch ring full");
    const first = entries[0]?.counter ?? 0;
    const batchNo = this.nextBatch;
    const slot = batchNo % this.slots;
    this.tables.putBatch({ slot, batchNo, first, count: entries.length, log, entries: encodeEntries(entries) });
    return () => {
      this.nextBatch = batchNo + 1;
      this.live.push({ batchNo, slot, first, count: entries.length, left: entries.length });
      this.unconfirmed += entries.length;
      const bucket = BATCH_BUCKETS.findIndex((b) => entries.length <= b);
      this.sizes[bucket] = (this.sizes[bucket] ?? 0) + 1;
      this.committed.batches++;
      this.committed.receipts += entries.length;
    };
  }

  /** The live batch holding `counter`. */
  private find(counter: number): Live | undefined {
    let lo = this.head;
    let hi = this.live.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.live[mid] as Live;
      if (counter < b.first) hi = mid - 1;
      else if (counter >= b.first + b.count) lo = mid + 1;
      else return b;
    }
    return undefined;
  }

  private entriesOf(b: Live): RingEntry[] {
    const cached = this.parsed.get(b.batchNo);
    if (cached) return cached;
    const json = this.tables.batchEntries(b.slot, b.batchNo);
    if (json === undefined) throw new Error(`batch ${b.batchNo} is not in slot ${b.slot}`);
    const entries = decodeEntries(json);
    // Verify and the outbox read the newest batches most: keep a few parsed (a batch may hold 100 records).
    if (this.parsed.size >= PARSED_BATCHES) this.parsed.delete(this.parsed.keys().next().value as number);
    this.parsed.set(b.batchNo, entries);
    return entries;
  }

  /** A receipt still in the ring (`unconfirmedOnly`: and not yet confirmed by Postgres). */
  receipt(counter: number, o: { unconfirmedOnly?: boolean } = {}): RingEntry | null {
    const b = this.find(counter);
    if (!b) return null;
    if (o.unconfirmedOnly && (b.left === 0 || this.confirmed.has(counter))) return null;
    return this.entriesOf(b).find((e) => e.counter === counter) ?? null;
  }

  records(counters: number[]): { counter: number; record: string }[] {
    return counters.flatMap((c) => {
      const e = this.receipt(c);
      return e ? [{ counter: c, record: e.record }] : [];
    });
  }

  /** The index of the first live batch holding a counter above `after` (binary search). */
  private firstAfter(after: number): number {
    let lo = this.head;
    let hi = this.live.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.live[mid] as Live;
      if (b.first + b.count - 1 <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Unconfirmed receipts with counter in (after, upTo], in order, at most `limit`. */
  page(after: number, upTo: number, limit: number): OutboxReceipt[] {
    const out: OutboxReceipt[] = [];
    for (let i = Math.max(this.firstAfter(after), this.unconfirmedFrom); i < this.live.length; i++) {
      const b = this.live[i] as Live;
      if (b.left === 0) continue;
      if (b.first > upTo || out.length >= limit) break;
      for (const e of this.entriesOf(b)) {
        if (e.counter <= after || e.counter > upTo || this.confirmed.has(e.counter)) continue;
        if (out.length >= limit) break;
        out.push({ counter: e.counter, hash: e.hash, record: e.record });
      }
    }
    return out;
  }

  /** The entries of every live batch after `batchNo`, oldest first (a restart replays them). */
  *entriesAfter(batchNo: number): Generator<RingEntry> {
    for (let i = this.head; i < this.live.length; i++) {
      const b = this.live[i] as Live;
      if (b.batchNo > batchNo) yield* this.entriesOf(b);
    }
  }

  /** Postgres has these. Returns how many were newly confirmed. Safe to call again. */
  markPersisted(counters: number[]): number {
    let n = 0;
    for (const c of counters) {
      const b = this.find(c);
      if (!b || b.left === 0 || b.batchNo <= this.persistedBatch || this.confirmed.has(c)) continue;
      this.confirmed.add(c);
      b.left--;
      this.unconfirmed--;
      n++;
      // A batch confirmed in full needs no per-counter record (readers check `left` first).
      if (b.left === 0) for (let k = b.first; k < b.first + b.count; k++) this.confirmed.delete(k);
    }
    this.advance();
    return n;
  }

  /** Idempotency keys and heads of batches up to `batchNo` are written out (the mark committed). */
  marked(batchNo: number): void {
    this.markedBatch = batchNo;
    this.advance();
  }

  /** Moves the persisted watermark over confirmed batches, and drops batches that are dead. */
  private advance(): void {
    // Both walks resume where the last one stopped, so each batch is passed once.
    for (let b = this.live[this.unconfirmedFrom]; b && b.left === 0; b = this.live[++this.unconfirmedFrom]) {
      if (b.batchNo > this.persistedBatch) this.persisted.value = b.batchNo;
    }
    for (let b = this.live[this.head]; b; b = this.live[this.head]) {
      if (b.left > 0 || b.batchNo > this.markedBatch || b.batchNo > this.persistedBatch) break;
      for (let c = b.first; c < b.first + b.count; c++) this.confirmed.delete(c);
      this.head++;
    }
    // Drop the dead prefix in one go once it is large (shift() per batch would be quadratic).
    if (this.head > 1024 && this.head * 2 > this.live.length) {
      this.live = this.live.slice(this.head);
      this.unconfirmedFrom -= this.head;
      this.head = 0;
    }
  }

  /** Every batch up to here is confirmed in Postgres (stored lazily: watermark.ts). */
  private get persistedBatch(): number {
    return this.persisted.value;
  }

  storeWatermark(now: number): void {
    this.persisted.store(now);
  }

  watermarkAt(): number | null {
    return this.persisted.dueAt();
  }

  /** The received_at of the oldest unconfirmed receipt's batch, read from its record. */
  oldestUnconfirmed(): RingEntry | null {
    const b = this.live.find((l, i) => i >= this.unconfirmedFrom && l.left > 0);
    if (!b) return null;
    return this.entriesOf(b).find((e) => !this.confirmed.has(e.counter)) ?? null;
  }

  stats(): BatchStats {
    const sizes: Record<string, number> = {};
    BATCH_BUCKETS.forEach((b, i) => {
      const lo = i === 0 ? 1 : (BATCH_BUCKETS[i - 1] as number) + 1;
      const label = b === Number.POSITIVE_INFINITY ? `${lo}+` : lo === b ? `${b}` : `${lo}-${b}`;
      sizes[label] = this.sizes[i] ?? 0;
    });
    return { ...this.committed, sizes };
  }
}
