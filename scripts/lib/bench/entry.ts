/**
 * The bench's Worker entry (bundled by `wrangler deploy --dry-run`, runs in
 * workerd): the product's own default export, unchanged, and its StoreShard
 * with a thin counter around it. The counter only tallies, per RPC method and
 * for alarms, how many calls there were and the SQLite rows each one read and
 * wrote (the cursor's own rowsRead/rowsWritten, the figures Cloudflare bills),
 * so the bench can price a receipt's Durable Object work. It changes no
 * behaviour; `npm run bench -- --exact` runs the product bundle without it.
 */
import type { ShardStorage } from "../../../durable-objects/ports.ts";
import worker, { StoreShard as ProductShard } from "../../../workers/index.ts";

export default worker;

export type Tally = { calls: number; rowsRead: number; rowsWritten: number; statements: number };
export type ShardTally = Record<string, Tally>;

type Cursor = { rowsRead: number; rowsWritten: number };

/** The shard's RPC methods the counter wraps, when the product has them. */
const RPC_METHODS = [
  "issue",
  "markPersisted",
  "view",
  "logView",
  "pendingTile",
  "records",
  "stats",
  "upsertStore",
  "registerTerminal",
  "revokeTerminal",
];

export class StoreShard extends ProductShard {
  private readonly tally: ShardTally = {};
  // No initializer: the product's constructor already runs statements through storageFor.
  private open?: Cursor[];

  /** The product's storage seam, with every statement's cursor kept for the tally. */
  protected override storageFor(ctx: DurableObjectState): ShardStorage {
    const real = ctx.storage;
    const counting = {
      exec: (query: string, ...bindings: unknown[]) => {
        const cursor = real.sql.exec(query, ...bindings);
        this.open ??= [];
        this.open.push(cursor);
        return cursor;
      },
      get databaseSize() {
        return real.sql.databaseSize;
      },
    } as SqlStorage;
    return {
      sql: counting,
      transactionSync: (fn) => real.transactionSync(fn),
      sync: () => real.sync(),
      getAlarm: () => real.getAlarm(),
      setAlarm: (at) => real.setAlarm(at),
    };
  }

  /** Attributes the statements run since the last sweep to `method`. */
  sweep(method: string, call: boolean): void {
    const t = this.tally[method] ?? { calls: 0, rowsRead: 0, rowsWritten: 0, statements: 0 };
    if (call) t.calls++;
    for (const c of this.open ?? []) {
      t.rowsRead += c.rowsRead;
      t.rowsWritten += c.rowsWritten;
      t.statements++;
    }
    this.open = [];
    this.tally[method] = t;
  }

  override async alarm(): Promise<void> {
    try {
      await super.alarm();
    } finally {
      this.sweep("alarm", true);
    }
  }

  /** Read by the bench over RPC (not counted, not routed over HTTP). */
  benchTally(): ShardTally {
    return this.tally;
  }
}

// Wrap each RPC method on the prototype (workerd dispatches RPC to prototype methods only).
for (const name of RPC_METHODS) {
  const original = (ProductShard.prototype as unknown as Record<string, unknown>)[name];
  if (typeof original !== "function") continue;
  Object.defineProperty(StoreShard.prototype, name, {
    configurable: true,
    writable: true,
    value: function (this: StoreShard, ...args: unknown[]) {
      // Statements still open belong to an alarm paused at an await.
      if ((this as unknown as { open?: Cursor[] }).open?.length) this.sweep("alarm", false);
      let result: unknown;
      try {
        result = original.apply(this, args);
      } catch (e) {
        this.sweep(name, true);
        throw e;
      }
      if (result instanceof Promise) return result.finally(() => this.sweep(name, true));
      this.sweep(name, true);
      return result;
    },
  });
}
