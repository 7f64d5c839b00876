/**
 * A watermark kept in memory and written to `meta` lazily: at most every
 * WATERMARK_EVERY_MS, so a busy shard pays one row per interval, not one per
 * move. Only for values whose stale copy after a restart is safe (some work is
 * done again, never skipped).
 */
import type { ShardTables } from "./tables.ts";

/** A restart finds a watermark at most this old: it re-sends (or re-confirms) at most this much. */
export const WATERMARK_EVERY_MS = 2_000;

export class Watermark {
  value: number;
  private stored: number;
  private storedAt = 0;
  private readonly tables: ShardTables;
  private readonly key: string;

  constructor(tables: ShardTables, key: string, meta: Record<string, number>) {
    this.tables = tables;
    this.key = key;
    this.value = meta[key] ?? 0;
    this.stored = this.value;
  }

  /** Writes the value if it moved and the interval has passed (one row). */
  store(now: number): void {
    if (this.value === this.stored || now - this.storedAt < WATERMARK_EVERY_MS) return;
    this.tables.setMeta(this.key, this.value);
    this.stored = this.value;
    this.storedAt = now;
  }

  /** When the alarm should come to store a value that moved, or null. */
  dueAt(): number | null {
    return this.value === this.stored ? null : this.storedAt + WATERMARK_EVERY_MS;
  }
}
