/**
 * A ShardStorage over node:sqlite, for the shard's unit tests in Node: the
 * same SQL as a Durable Object's, in memory, with the failures that matter
 * (a commit that fails, a sync that fails after the write landed). A restart
 * is a new Shard over the same storage. Never imported by the product.
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { ShardStorage } from "./ports.ts";

type Row = Record<string, SqlStorageValue>;

/** What the next commit or sync does: succeed, or fail (once). */
export type StorageFaults = { failNextCommit: boolean; failNextSync: boolean };

export type TestStorage = ShardStorage & { faults: StorageFaults; alarm: () => number | null };

const bind = (v: unknown): SQLInputValue => (v instanceof ArrayBuffer ? new Uint8Array(v) : (v as SQLInputValue));

function cursor(rows: Row[], rowsWritten: number): SqlStorageCursor<Row> {
  const it = rows[Symbol.iterator]();
  const c = {
    rowsRead: rows.length,
    rowsWritten,
    columnNames: Object.keys(rows[0] ?? {}),
    toArray: () => rows,
    one: () => {
      if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
      return rows[0] as Row;
    },
    raw: () => rows.map((r) => Object.values(r))[Symbol.iterator](),
    next: () => it.next(),
    [Symbol.iterator]: () => it,
  };
  return c as unknown as SqlStorageCursor<Row>;
}

export function testStorage(): TestStorage {
  const db = new DatabaseSync(":memory:");
  const changes = () => (db.prepare("SELECT total_changes() AS n").get() as { n: number }).n;
  const faults: StorageFaults = { failNextCommit: false, failNextSync: false };
  let alarm: number | null = null;
  const sql = {
    exec(query: string, ...bindings: unknown[]) {
      const before = changes();
      // Schema steps are several statements in one string, as a Durable Object accepts.
      if (!bindings.length && /;\s*\S/.test(query.trim().replace(/;$/, ""))) {
        db.exec(query);
        return cursor([], changes() - before);
      }
      const rows = db.prepare(query).all(...bindings.map(bind)) as Row[];
      return cursor(
        rows.map((r) => ({ ...r })),
        changes() - before,
      );
    },
    get databaseSize() {
      return 0;
    },
  } as unknown as SqlStorage;
  return {
    sql,
    faults,
    alarm: () => alarm,
    transactionSync<T>(fn: () => T): T {
      db.exec("BEGIN");
      try {
        const out = fn();
        if (faults.failNextCommit) {
          faults.failNextCommit = false;
          throw new Error("test storage: the commit failed");
        }
        db.exec("COMMIT");
        return out;
      } catch (e) {
        db.exec("ROLLBACK");
        throw e;
      }
    },
    async sync() {
      if (faults.failNextSync) {
        faults.failNextSync = false;
        throw new Error("test storage: sync failed after the write");
      }
    },
    getAlarm: async () => alarm,
    setAlarm: async (at: number | Date) => {
      alarm = typeof at === "number" ? at : at.getTime();
    },
  };
}
