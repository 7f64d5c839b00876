/**
 * Idempotency for 25 hours without a row per key (docs/scale.md §12):
 *
 * - the memtable: keys of the batches since the last mark, exact, in memory,
 *   rebuilt on restart from those batches' rows (they stay in the ring until
 *   the mark has written them out);
 * - runs: at each mark the memtable becomes one sorted run of pages, with its
 *   32-bit fingerprints kept in memory (4 bytes a key); a lookup reads one page
 *   only when a fingerprint matches;
 *
 * A shard from before the ring kept a row per key; the upgrade turns its live
 * keys into one run when the shard starts (upgrade.ts: carryLegacyKeys).
 */

import {
  encodePage,
  findInPage,
  fingerprint,
  fingerprintBytes,
  fingerprints,
  fingerprintsFrom,
  type IdemEntry,
  mayHold,
  toPages,
} from "../core/idem-run.ts";
import type { ShardTables } from "./tables.ts";

export type KnownKey = { bodyHash: string; counter: number };

/** ≥ 24 h, with an hour of slack. */
export const IDEMPOTENCY_TTL_MS = 25 * 60 * 60 * 1000;

type Run = { run: number; createdAt: number; fps: Uint32Array };

export class IdempotencyIndex {
  private memtable = new Map<string, KnownKey>();
  private runs: Run[];

  private readonly tables: ShardTables;

  constructor(tables: ShardTables) {
    this.tables = tables;
    this.runs = tables.idemRuns().map((r) => ({ run: r.run, createdAt: r.created_at, fps: fingerprintsFrom(r.fps) }));
  }

  /** Keys remembered since the last mark. */
  get pending(): number {
    return this.memtable.size;
  }

  remember(f: string, key: KnownKey): void {
    this.memtable.set(f, key);
  }

  /** What this key was given, if it is remembered (newest first). */
  find(f: string, now: number): KnownKey | null {
    const hit = this.memtable.get(f);
    if (hit) return hit;
    const fp = fingerprint(f);
    for (let i = this.runs.length - 1; i >= 0; i--) {
      const run = this.runs[i] as Run;
      if (run.createdAt < now - IDEMPOTENCY_TTL_MS) break;
      if (!mayHold(run.fps, fp)) continue;
      const page = this.tables.idemPage(run.run, fp);
      const e = page ? findInPage(page, f) : null;
      if (e) return { bodyHash: e.bodyHash, counter: e.counter };
    }
    return null;
  }

  /**
   * Writes the memtable as run `run` (inside the mark's transaction): one row
   * per thousand keys and one for the fingerprints. Returns what to run once
   * the transaction committed.
   */
  flush(run: number, now: number): () => void {
    if (!this.memtable.size) return () => {};
    const entries: IdemEntry[] = [];
    for (const [keyHash, k] of this.memtable) entries.push({ keyHash, bodyHash: k.bodyHash, counter: k.counter });
    const fps = writeRun(this.tables, run, now, entries);
    const flushed = this.memtable;
    return () => {
      this.runs.push({ run, createdAt: now, fps });
      // Keys remembered while the transaction ran belong to the next run.
      for (const f of flushed.keys()) if (this.memtable.get(f) === flushed.get(f)) this.memtable.delete(f);
    };
  }

  /** Drops one expired run per call. */
  sweep(now: number): void {
    const oldest = this.runs[0];
    if (oldest && oldest.createdAt < now - IDEMPOTENCY_TTL_MS) {
      this.tables.deleteIdemRun(oldest.run);
      this.runs.shift();
    }
  }

  /** When the sweep next has work. */
  nextAt(now: number): number | null {
    const oldest = this.runs[0];
    const due = oldest ? oldest.createdAt + IDEMPOTENCY_TTL_MS : null;
    return due === null ? null : Math.max(now, due);
  }

  /** Bytes of memory the index holds (the fingerprints, and ≈ 150 B a memtable key). */
  memoryBytes(): number {
    return this.runs.reduce((n, r) => n + r.fps.byteLength, 0) + this.memtable.size * 150;
  }
}

/** Writes `entries` as run `run`: one row per thousand keys and one for the fingerprints, which it returns. */
export function writeRun(tables: ShardTables, run: number, createdAt: number, entries: IdemEntry[]): Uint32Array {
  const pages = toPages(entries);
  const fps = fingerprints(pages);
  tables.putIdemRun(
    run,
    createdAt,
    fingerprintBytes(fps),
    pages.map((p) => ({ first: p.first, entries: encodePage(p.entries) })),
  );
  return fps;
}
