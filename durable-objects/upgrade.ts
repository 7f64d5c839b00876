/**
 * Upgrade paths that run once, when a shard starts, and go away with the
 * release they serve (see "Upgrading in place" in the README).
 *
 * A shard from before the transparency log (release 49e008b, 2026-11-22) issued
 * counters but kept no log, and pruned every receipt Postgres confirmed. It
 * adopts its history: its log is rebuilt, in counter order, from Postgres's rows
 * (counters it no longer holds) and its own held rows (the rest). Nothing is
 * taken on trust from Postgres: each record must hash to its hash and link to
 * its store's previous one, and each store's chain must end at the head the
 * shard itself kept, so an edited or missing row stops the adoption (the shard
 * then answers 503 and says why in its log, rather than sign a forged tree).
 */
import { canonicalHash } from "../core/canonical.ts";
import { parseCode } from "../core/code.ts";
import { keyHash } from "../core/idem-run.ts";
import { type ChainRecord, GENESIS_HASH } from "../core/receipt.ts";
import type { Logger } from "../kit/logger.ts";
import { fromHex } from "../tlog/merkle.ts";
import { appendLeaves, emptyLog, type LogState, packHashes } from "../tlog/tiles.ts";
import { IDEMPOTENCY_TTL_MS, writeRun } from "./idempotency.ts";
import { encodeEntries, RING_SLOTS, type RingEntry } from "./ring.ts";
import { migrate } from "./schema.ts";
import { type LogHead, ShardTables } from "./tables.ts";

/** A receipt of the shard's history, as Postgres holds it: its record (rebuilt from the row) and stored hash. */
export type HistoryRow = { counter: number; record: ChainRecord; hash: string };

/** Reads a shard's receipts from Postgres in counter order, after `after`, at most `limit`. */
export type HistorySource = (shard: number, after: number, limit: number) => Promise<HistoryRow[]>;

const PAGE = 2_000;

/** The counters a shard from before the log issued (0: it is not such a shard). */
export function historyToAdopt(tables: ShardTables): number {
  // Cheapest first: a shard that never issued, or has a log head, needs nothing.
  const upTo = Math.max(tables.meta().sent_up_to ?? 0, tables.maxLegacyHeld());
  if (!upTo || tables.logHead() || tables.maxBatchNo() > 0) return 0;
  return upTo;
}

/**
 * Rebuilds the log of counters 1..`upTo` and stores its head where a shard from
 * before the ring kept it (the shard's constructor then carries the held rows
 * into the ring as usual). Throws, changing nothing, if the history does not
 * check out or Postgres cannot be read.
 */
export async function adoptHistory(
  tables: ShardTables,
  transaction: (fn: () => void) => void,
  shard: number,
  upTo: number,
  source: HistorySource,
): Promise<{ size: number }> {
  const held = new Map(tables.legacyHeld(0, Number.MAX_SAFE_INTEGER).map((r) => [r.counter, r]));
  const tips = new Map<string, { seq: number; hash: string }>();
  let state: LogState = emptyLog();
  let lastReceivedAt = 0;
  const tiles: { level: number; index: number; hashes: Uint8Array }[] = [];
  const fail = (counter: number, why: string) => {
    throw new Error(`shard ${shard}: cannot adopt its history at counter ${counter}: ${why}`);
  };
  let next = 1;
  while (next <= upTo) {
    const page = await source(shard, next - 1, PAGE);
    const fromPostgres = new Map(page.map((r) => [r.counter, r]));
    const last = Math.min(upTo, Math.max(next + PAGE - 1, page.at(-1)?.counter ?? 0));
    const hashes: Uint8Array[] = [];
    for (let c = next; c <= last; c++) {
      const own = held.get(c);
      const row = own
        ? { record: JSON.parse(own.record) as ChainRecord, hash: own.hash }
        : (fromPostgres.get(c) ?? fail(c, "the shard no longer holds it and Postgres has no row for it"));
      if (canonicalHash(row.record) !== row.hash) fail(c, "its record does not hash to its hash");
      const key = `${row.record.tenantId}\u0000${row.record.storeId}`;
      const tip = tips.get(key) ?? { seq: 0, hash: GENESIS_HASH };
      if (row.record.seq !== tip.seq + 1 || row.record.prevHash !== tip.hash) {
        fail(c, `it does not follow receipt ${tip.seq} of store ${row.record.storeId}`);
      }
      tips.set(key, { seq: row.record.seq, hash: row.hash });
      hashes.push(fromHex(row.hash));
      lastReceivedAt = Math.max(lastReceivedAt, Date.parse(row.record.receivedAt));
    }
    const appended = appendLeaves(state, hashes);
    state = appended.state;
    for (const t of appended.full) tiles.push({ level: t.level, index: t.index, hashes: packHashes(t.hashes) });
    next = last + 1;
  }
  // Every store's chain must end where the shard's own head says it does.
  for (const head of tables.storeHeads()) {
    const tip = tips.get(`${head.tenantId}\u0000${head.storeId}`) ?? { seq: 0, hash: GENESIS_HASH };
    if (head.seq > 0 && (tip.seq !== head.seq || tip.hash !== head.hash)) {
      fail(upTo, `store ${head.storeId} ends at receipt ${tip.seq}, but the shard's head is receipt ${head.seq}`);
    }
  }
  transaction(() => {
    for (const t of tiles) tables.putPendingTile(t.level, t.index, t.hashes);
    for (const [level, hashes] of state.partial.entries()) {
      if (level > 0 && hashes) tables.putLogPartial(level, packHashes(hashes));
    }
    tables.putLogHead({
      size: state.size,
      edge: packHashes(state.edge),
      tail: packHashes(state.partial[0] ?? []),
      lastReceivedAt,
    });
  });
  return { size: state.size };
}

/** Receipts a shard held one row each before the ring are carried over in batches of this many, read in pages of HELD_PAGE. */
const HELD_BATCH = 200;
const HELD_PAGE = 5_000;

/**
 * Carries over, once, the receipts a shard from before the ring held one row
 * each (inside a transaction): runs of consecutive counters become batches,
 * each carrying the log's head as it was. Their keys go to the index next
 * (carryLegacyKeys) and their stores' heads stay in `stores`, so the new batches count as marked.
 */
export function adoptHeldRows(tables: ShardTables): void {
  const head = tables.logHead();
  if (!head) throw new Error("receipts are held but the log has no head");
  const log: LogHead = {
    size: head.size,
    edge: new Uint8Array(head.edge),
    tail: new Uint8Array(head.tail),
    lastReceivedAt: head.last_received_at,
  };
  const meta = tables.meta();
  const first = Math.max(meta.marked_batch ?? 0, meta.persisted_batch ?? 0, tables.maxBatchNo());
  let batchNo = first;
  let run: RingEntry[] = [];
  const put = () => {
    if (!run.length) return;
    batchNo++;
    // Slots of this pass must not wrap onto each other (or onto batches from before it).
    if (batchNo - first >= RING_SLOTS / 2) {
      throw new Error("too many separate runs of held receipts to carry over into the ring; confirm them first");
    }
    const c = run[0]?.counter ?? 0;
    tables.putBatch({
      slot: batchNo % RING_SLOTS,
      batchNo,
      first: c,
      count: run.length,
      log,
      entries: encodeEntries(run),
    });
    run = [];
  };
  // Page by counter: only one page of records is in memory at a time.
  for (let after = 0, page = tables.legacyHeld(0, HELD_PAGE); page.length; page = tables.legacyHeld(after, HELD_PAGE)) {
    for (const r of page) {
      const last = run.at(-1);
      if (last && (last.counter + 1 !== r.counter || run.length >= HELD_BATCH)) put();
      run.push({ counter: r.counter, hash: r.hash, record: r.record });
    }
    after = page.at(-1)?.counter ?? after;
  }
  put();
  tables.setMeta("marked_batch", batchNo);
  tables.dropLegacyHeld();
}

/** The run a pre-ring shard's keys become: before every run a mark writes (those count from 1). */
const LEGACY_RUN = 0;

/**
 * A pre-ring shard's live idempotency keys become one run of the index, so a
 * retry still replays its code while no lookup reads the old table. The run is
 * dated by its newest key and expires with it. A key's counter is in the code
 * its stored reply printed.
 */
export function carryLegacyKeys(tables: ShardTables, codeKey: string, now: number): number {
  const rows = tables.legacyIdempotency(now - IDEMPOTENCY_TTL_MS);
  const entries = rows.flatMap((r) => {
    const parsed = parseCode(codeKey, (JSON.parse(r.response) as { code: string }).code);
    return parsed ? [{ keyHash: keyHash(r.terminal, r.key), bodyHash: r.body_hash, counter: parsed.counter }] : [];
  });
  if (entries.length)
    writeRun(
      tables,
      LEGACY_RUN,
      rows.reduce((t, r) => Math.max(t, r.created_at), 0),
      entries,
    );
  tables.dropLegacyIdempotency();
  return entries.length;
}

/**
 * What a shard runs once at start, before its logic is built: the schema steps;
 * for a shard from before the log, the adoption of its history; for a shard from
 * before the ring, its held rows carried into the ring and its keys into the index.
 */
export async function upgradeOnStart(
  storage: { sql: SqlStorage; transactionSync: <T>(fn: () => T) => T },
  source: HistorySource,
  logger: Logger,
  start: { codeKey: string; now: number },
): Promise<void> {
  migrate(storage.sql);
  const tables = new ShardTables(storage.sql);
  const upTo = historyToAdopt(tables);
  if (upTo) {
    const shard = tables.meta().shard ?? -1;
    const { size } = await adoptHistory(tables, (fn) => storage.transactionSync(fn), shard, upTo, source);
    logger.info({ msg: "shard adopted its history", shard, size });
  }
  if (tables.hasLegacyHeld()) storage.transactionSync(() => adoptHeldRows(tables));
  if (tables.hasLegacyKeys()) {
    const keys = storage.transactionSync(() => carryLegacyKeys(tables, start.codeKey, start.now));
    logger.info({ msg: "shard carried its idempotency keys into the index", keys });
  }
}
