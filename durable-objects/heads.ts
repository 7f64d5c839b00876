/**
 * Each store's chain head (its last seq, hash and counter). Heads that moved
 * since the last mark live in memory and go back to `stores` at the next mark
 * (a row per store that moved, not per receipt); a restart replays the
 * batches after the mark to find them again.
 */
import type { ShardTables } from "./tables.ts";

export type Head = { seq: number; hash: string; counter: number | null };

const keyOf = (tenantId: string, storeId: string) => `${tenantId}\n${storeId}`;

export class StoreHeads {
  private moved = new Map<string, { tenantId: string; storeId: string; head: Head }>();
  private readonly tables: ShardTables;

  constructor(tables: ShardTables) {
    this.tables = tables;
  }

  get(tenantId: string, storeId: string): Head | undefined {
    const m = this.moved.get(keyOf(tenantId, storeId));
    if (m) return m.head;
    const row = this.tables.storeHead(tenantId, storeId);
    return row ? { seq: row.seq, hash: row.head_hash, counter: row.head_counter } : undefined;
  }

  move(tenantId: string, storeId: string, head: Head): void {
    this.moved.set(keyOf(tenantId, storeId), { tenantId, storeId, head });
  }

  /** Writes the moved heads to `stores` (inside the mark's transaction); returns what to run once it committed. */
  writeBack(): () => void {
    const written = new Map(this.moved);
    for (const { tenantId, storeId, head } of written.values()) {
      this.tables.setStoreHead(tenantId, storeId, head);
    }
    return () => {
      for (const [k, v] of written) if (this.moved.get(k) === v) this.moved.delete(k);
    };
  }

  get pending(): number {
    return this.moved.size;
  }
}
