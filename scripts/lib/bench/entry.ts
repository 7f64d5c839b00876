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
import type { BatchStats } from "../../../durable-objects/ring.ts";
import worker, { StoreShard as ProductShard } from "../../../workers/index.ts";

export default worker;

export type Tally = { calls: number; rowsRead: number; rowsWritten: number; statements: number };
/** Per RPC method (and "alarm"), and rows written per cause: which table a statement wrote. */
export type ShardTally = { methods: Record<string, Tally>; causes: Record<string, number>; commits: BatchStats };

type Cursor = { rowsRead: number; rowsWritten: number };

/** What a statement wrote, by the table it names (first match). */
const CAUSES: [RegExp, string][] = [
  [/\bbatches\b/, "ring row (one per group commit)"],
  [/\bidem_(runs|pages)\b/, "idempotency runs (at marks, and their expiry)"],
  [/\bidempotency\b/, "idempotency, old table"],
  [/\bUPDATE stores\b/, "store heads (at marks)"],
  [/\blog_(pending|partial)\b/, "log tiles"],
  [/\blog_checkpoint\b/, "checkpoints"],
  [/\bmeta\b/, "watermarks (meta)"],
  [/\brefund_ledger\b/, "refund ledgers (reserve, confirm)"],
  [/\brefund_sagas\b/, "refund sagas (written, deleted)"],
  [/\boffline_(seqs|terminals)\b/, "offline receipts (sequences, terminals)"],
  [/\breceipts\b/, "receipts, old table"],
];
const causeOf = (query: string) => CAUSES.find(([re]) => re.test(query))?.[1] ?? "other";

/** The shard's RPC methods the counter wraps, when the product has them. */
const RPC_METHODS = [
  "issue",
  "fetch",
  "webSocketMessage",
  "markPersisted",
  "view",
  "logView",
  "pendingTile",
  "records",
  "stats",
  "upsertStore",
  "registerTerminal",
  "revokeTerminal",
  "reserve",
  "confirm",
  "release",
  "holdOutcome",
  "offlineCode",
];

export class StoreShard extends ProductShard {
  private readonly tally: Record<string, Tally> = {};
  private readonly causes: Record<string, number> = {};
  // No initializer: the product's constructor already runs statements through storageFor.
  private open?: { cursor: Cursor; cause: string }[];

  /** The product's storage seam, with every statement's cursor kept for the tally. */
  protected override storageFor(ctx: DurableObjectState): ShardStorage {
    const real = ctx.storage;
    const counting = {
      exec: (query: string, ...bindings: unknown[]) => {
        const cursor = real.sql.exec(query, ...bindings);
        this.open ??= [];
        this.open.push({ cursor, cause: causeOf(query) });
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
    for (const { cursor, cause } of this.open ?? []) {
      t.rowsRead += cursor.rowsRead;
      t.rowsWritten += cursor.rowsWritten;
      t.statements++;
      if (cursor.rowsWritten) this.causes[cause] = (this.causes[cause] ?? 0) + cursor.rowsWritten;
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
    if (this.open?.length) this.sweep("alarm", false);
    return { methods: this.tally, causes: this.causes, commits: this.stats().commits };
  }

  /** A mark now (idempotency keys and store heads written out), so the bench can count what one writes. */
  benchMark(): void {
    this.shard.mark(Date.now());
    this.sweep("mark", true);
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
      if ((this as unknown as { open?: unknown[] }).open?.length) this.sweep("alarm", false);
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
