/**
 * Typed SQL over the shard's own tables (schema.ts). Every statement the shard
 * runs is here, so what a receipt costs in rows written can be read in one file.
 */
import { GENESIS_HASH } from "../core/receipt.ts";

export type Terminal = {
  tenant_id: string;
  store_id: string;
  terminal_id: string;
  revoked_at: number | null;
  /** v1.2: base64 of its Ed25519 key, for offline receipts; null when it registered none. */
  public_key: string | null;
};
/** A terminal's offline account (schema step 8). */
export type OfflineTerminalRow = {
  terminal: string;
  registered: number;
  max_seq: number;
  late: number;
  last_late_at: number | null;
  backlog: number;
  backlog_since: number | null;
  reported_at: number | null;
};
export type StoreHead = { seq: number; head_hash: string; head_counter: number | null };
export type StoreInfo = { tenantId: string; storeId: string; name: string; timezone: string };
export type LogHeadRow = { size: number; edge: ArrayBuffer; tail: ArrayBuffer; last_received_at: number };
export type CheckpointRow = { size: number; note: string; signed_at: number };
export type LogHead = { size: number; edge: Uint8Array; tail: Uint8Array; lastReceivedAt: number };
export type BatchRow = { slot: number; batchNo: number; first: number; count: number; log: LogHead; entries: string };

const bytes = (b: ArrayBuffer | Uint8Array) => (b instanceof Uint8Array ? b : new Uint8Array(b));

export type WitnessedRow = { size: number; note: string; witnessed_at: number };
export type RefusalRow = { witness: string; status: number; count: number; size: number; at: number; detail: string };

export class ShardTables {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  // ---- meta: a few counters that cannot be derived ----

  meta(): Record<string, number> {
    return Object.fromEntries(
      this.sql
        .exec<{ k: string; v: number }>("SELECT k, v FROM meta")
        .toArray()
        .map((r) => [r.k, r.v]),
    );
  }

  setMeta(k: string, v: number): void {
    this.sql.exec("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
  }

  // ---- stores and terminals ----

  upsertStore(s: StoreInfo): void {
    this.sql.exec(
      `INSERT INTO stores (tenant_id, store_id, name, timezone, seq, head_hash) VALUES (?, ?, ?, ?, 0, ?)
       ON CONFLICT (tenant_id, store_id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone`,
      s.tenantId,
      s.storeId,
      s.name,
      s.timezone,
      GENESIS_HASH,
    );
  }

  storeHead(tenantId: string, storeId: string): StoreHead | undefined {
    return this.sql
      .exec<StoreHead>(
        "SELECT seq, head_hash, head_counter FROM stores WHERE tenant_id = ? AND store_id = ?",
        tenantId,
        storeId,
      )
      .toArray()[0];
  }

  setStoreHead(tenantId: string, storeId: string, head: { seq: number; hash: string; counter: number | null }): void {
    this.sql.exec(
      "UPDATE stores SET seq = ?, head_hash = ?, head_counter = ? WHERE tenant_id = ? AND store_id = ?",
      head.seq,
      head.hash,
      head.counter,
      tenantId,
      storeId,
    );
  }

  terminalByToken(tokenHash: string): Terminal | undefined {
    return this.sql
      .exec<Terminal>(
        "SELECT tenant_id, store_id, terminal_id, revoked_at, public_key FROM terminals WHERE token_hash = ?",
        tokenHash,
      )
      .toArray()[0];
  }

  putTerminal(t: {
    tenantId: string;
    storeId: string;
    terminalId: string;
    tokenHash: string;
    publicKey: string | null;
  }): void {
    this.sql.exec(
      `INSERT INTO terminals (token_hash, tenant_id, store_id, terminal_id, public_key) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, store_id, terminal_id)
       DO UPDATE SET token_hash = excluded.token_hash, revoked_at = NULL, public_key = excluded.public_key`,
      t.tokenHash,
      t.tenantId,
      t.storeId,
      t.terminalId,
      t.publicKey,
    );
  }

  revokeTerminal(t: { tenantId: string; storeId: string; terminalId: string }, at: number): boolean {
    return (
      this.sql.exec(
        "UPDATE terminals SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND store_id = ? AND terminal_id = ?",
        at,
        t.tenantId,
        t.storeId,
        t.terminalId,
      ).rowsWritten > 0
    );
  }

  disabledTenants(): string[] {
    return this.sql
      .exec<{ tenant_id: string }>("SELECT tenant_id FROM disabled_tenants")
      .toArray()
      .map((r) => r.tenant_id);
  }

  setTenantDisabled(tenantId: string, disabled: boolean): void {
    if (disabled) this.sql.exec("INSERT OR IGNORE INTO disabled_tenants (tenant_id) VALUES (?)", tenantId);
    else this.sql.exec("DELETE FROM disabled_tenants WHERE tenant_id = ?", tenantId);
  }

  // ---- idempotency: runs of pages (idempotency.ts), and the table older shards kept a row a key in ----

  idemRuns(): { run: number; created_at: number; fps: ArrayBuffer }[] {
    return this.sql
      .exec<{ run: number; created_at: number; fps: ArrayBuffer }>(
        "SELECT run, created_at, fps FROM idem_runs ORDER BY run",
      )
      .toArray();
  }

  putIdemRun(run: number, createdAt: number, fps: Uint8Array, pages: { first: number; entries: string }[]): void {
    this.sql.exec("INSERT INTO idem_runs (run, created_at, fps) VALUES (?, ?, ?)", run, createdAt, fps);
    for (const p of pages) {
      this.sql.exec("INSERT INTO idem_pages (run, first, entries) VALUES (?, ?, ?)", run, p.first, p.entries);
    }
  }

  /** The page of `run` that holds fingerprint `fp`, if any does. */
  idemPage(run: number, fp: number): string | undefined {
    return this.sql
      .exec<{ entries: string }>(
        "SELECT entries FROM idem_pages WHERE run = ? AND first <= ? ORDER BY first DESC LIMIT 1",
        run,
        fp,
      )
      .toArray()[0]?.entries;
  }

  deleteIdemRun(run: number): void {
    this.sql.exec("DELETE FROM idem_pages WHERE run = ?", run);
    this.sql.exec("DELETE FROM idem_runs WHERE run = ?", run);
  }

  /** The keys a shard from before the ring kept a row each for, received at or after `since`. */
  legacyIdempotency(
    since: number,
  ): { terminal: string; key: string; body_hash: string; response: string; created_at: number }[] {
    return this.sql
      .exec<{ terminal: string; key: string; body_hash: string; response: string; created_at: number }>(
        "SELECT terminal, key, body_hash, response, created_at FROM idempotency WHERE created_at >= ?",
        since,
      )
      .toArray();
  }

  hasLegacyKeys(): boolean {
    return this.sql.exec("SELECT 1 FROM idempotency LIMIT 1").toArray().length > 0;
  }

  dropLegacyIdempotency(): void {
    this.sql.exec("DELETE FROM idempotency");
  }

  // ---- the batch ring: one row per group commit (ring.ts) ----

  /** Writes batch `batchNo` into its slot, over whatever batch was there: one row written. */
  putBatch(b: BatchRow): void {
    this.sql.exec(
      `INSERT INTO batches (slot, batch_no, first_counter, count, log_size, log_edge, log_tail, last_received_at, entries)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (slot) DO UPDATE SET batch_no = excluded.batch_no, first_counter = excluded.first_counter,
         count = excluded.count, log_size = excluded.log_size, log_edge = excluded.log_edge,
         log_tail = excluded.log_tail, last_received_at = excluded.last_received_at, entries = excluded.entries`,
      b.slot,
      b.batchNo,
      b.first,
      b.count,
      b.log.size,
      b.log.edge,
      b.log.tail,
      b.log.lastReceivedAt,
      b.entries,
    );
  }

  /** Every batch still in the ring after `afterBatch`, without their entries. */
  batchesAfter(afterBatch: number): { slot: number; batch_no: number; first_counter: number; count: number }[] {
    return this.sql
      .exec<{ slot: number; batch_no: number; first_counter: number; count: number }>(
        "SELECT slot, batch_no, first_counter, count FROM batches WHERE batch_no > ? ORDER BY batch_no",
        afterBatch,
      )
      .toArray();
  }

  batchEntries(slot: number, batchNo: number): string | undefined {
    return this.sql
      .exec<{ entries: string }>("SELECT entries FROM batches WHERE slot = ? AND batch_no = ?", slot, batchNo)
      .toArray()[0]?.entries;
  }

  /** The log's head as the newest batch left it. */
  newestBatchHead(): LogHeadRow | undefined {
    return this.sql
      .exec<LogHeadRow>(
        `SELECT log_size AS size, log_edge AS edge, log_tail AS tail, last_received_at FROM batches
         ORDER BY batch_no DESC LIMIT 1`,
      )
      .toArray()[0];
  }

  storeNames(tenantId: string, storeId: string): { name: string; timezone: string } | undefined {
    return this.sql
      .exec<{ name: string; timezone: string }>(
        "SELECT name, timezone FROM stores WHERE tenant_id = ? AND store_id = ?",
        tenantId,
        storeId,
      )
      .toArray()[0];
  }

  // ---- receipts held one row each by shards before the batch ring (read once, by the migration) ----

  hasLegacyHeld(): boolean {
    return this.sql.exec("SELECT 1 FROM receipts LIMIT 1").toArray().length > 0;
  }

  /** Held receipts after `after`, in counter order, a page at a time (a shard may hold millions). */
  legacyHeld(after: number, limit: number): { counter: number; hash: string; record: string }[] {
    return this.sql
      .exec<{ counter: number; hash: string; record: string }>(
        "SELECT counter, hash, record FROM receipts WHERE counter > ? ORDER BY counter LIMIT ?",
        after,
        limit,
      )
      .toArray();
  }

  /** The highest counter held one row each (0: none). */
  maxLegacyHeld(): number {
    return this.sql.exec<{ n: number | null }>("SELECT max(counter) AS n FROM receipts").one().n ?? 0;
  }

  maxBatchNo(): number {
    return this.sql.exec<{ n: number | null }>("SELECT max(batch_no) AS n FROM batches").one().n ?? 0;
  }

  dropLegacyHeld(): void {
    this.sql.exec("DELETE FROM receipts");
  }

  // ---- the transparency log ----

  logHead(): LogHeadRow | undefined {
    return this.sql
      .exec<LogHeadRow>("SELECT size, edge, tail, last_received_at FROM log_head WHERE id = 1")
      .toArray()[0];
  }

  /** Writes the log's head the way a shard from before the ring kept it (only the upgrade does, once). */
  putLogHead(head: LogHead): void {
    this.sql.exec(
      `INSERT INTO log_head (id, size, edge, tail, last_received_at) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET size = excluded.size, edge = excluded.edge, tail = excluded.tail,
                                      last_received_at = excluded.last_received_at`,
      head.size,
      head.edge,
      head.tail,
      head.lastReceivedAt,
    );
  }

  /** Each store's chain head as the shard keeps it: the anchor the upgrade checks history against. */
  storeHeads(): { tenantId: string; storeId: string; seq: number; hash: string }[] {
    return this.sql
      .exec<{ tenant_id: string; store_id: string; seq: number; head_hash: string }>(
        "SELECT tenant_id, store_id, seq, head_hash FROM stores",
      )
      .toArray()
      .map((r) => ({ tenantId: r.tenant_id, storeId: r.store_id, seq: r.seq, hash: r.head_hash }));
  }

  logPartials(): { level: number; hashes: Uint8Array }[] {
    return this.sql
      .exec<{ level: number; hashes: ArrayBuffer }>("SELECT level, hashes FROM log_partial ORDER BY level")
      .toArray()
      .map((r) => ({ level: r.level, hashes: bytes(r.hashes) }));
  }

  putLogPartial(level: number, hashes: Uint8Array): void {
    this.sql.exec(
      "INSERT INTO log_partial (level, hashes) VALUES (?, ?) ON CONFLICT (level) DO UPDATE SET hashes = excluded.hashes",
      level,
      hashes,
    );
  }

  putPendingTile(level: number, index: number, hashes: Uint8Array): void {
    this.sql.exec("INSERT OR REPLACE INTO log_pending (level, idx, hashes) VALUES (?, ?, ?)", level, index, hashes);
  }

  pendingTiles(limit: number): { level: number; index: number; hashes: Uint8Array }[] {
    return this.sql
      .exec<{ level: number; idx: number; hashes: ArrayBuffer }>(
        "SELECT level, idx, hashes FROM log_pending ORDER BY level, idx LIMIT ?",
        limit,
      )
      .toArray()
      .map((r) => ({ level: r.level, index: r.idx, hashes: bytes(r.hashes) }));
  }

  pendingTile(level: number, index: number): Uint8Array | null {
    const row = this.sql
      .exec<{ hashes: ArrayBuffer }>("SELECT hashes FROM log_pending WHERE level = ? AND idx = ?", level, index)
      .toArray()[0];
    return row ? bytes(row.hashes) : null;
  }

  pendingTileCount(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM log_pending").one().n;
  }

  deletePendingTile(level: number, index: number): void {
    this.sql.exec("DELETE FROM log_pending WHERE level = ? AND idx = ?", level, index);
  }

  checkpoint(): CheckpointRow | undefined {
    return this.sql.exec<CheckpointRow>("SELECT size, note, signed_at FROM log_checkpoint WHERE id = 1").toArray()[0];
  }

  putCheckpoint(c: { size: number; note: string; signedAt: number }): void {
    this.sql.exec(
      `INSERT INTO log_checkpoint (id, size, note, signed_at) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET size = excluded.size, note = excluded.note, signed_at = excluded.signed_at`,
      c.size,
      c.note,
      c.signedAt,
    );
  }

  // ---- witnessed checkpoints and refusals ----

  latestWitnessed(): WitnessedRow | undefined {
    return this.sql
      .exec<WitnessedRow>("SELECT size, note, witnessed_at FROM log_witnessed ORDER BY size DESC LIMIT 1")
      .toArray()[0];
  }

  witnessedAt(size: number): WitnessedRow | undefined {
    return this.sql
      .exec<WitnessedRow>("SELECT size, note, witnessed_at FROM log_witnessed WHERE size = ?", size)
      .toArray()[0];
  }

  /** Stores a witnessed checkpoint; `keep` marks one never pruned. Drops unkept ones past the newest `recent`. */
  putWitnessed(w: { size: number; note: string; witnessedAt: number }, keep: boolean, recent: number): void {
    this.sql.exec(
      `INSERT INTO log_witnessed (size, note, witnessed_at, kept) VALUES (?, ?, ?, ?)
       ON CONFLICT (size) DO UPDATE SET note = excluded.note, kept = max(kept, excluded.kept)`,
      w.size,
      w.note,
      w.witnessedAt,
      keep ? 1 : 0,
    );
    this.sql.exec(
      `DELETE FROM log_witnessed WHERE kept = 0 AND size < (
         SELECT min(size) FROM (SELECT size FROM log_witnessed ORDER BY size DESC LIMIT ?))`,
      recent,
    );
  }

  /** When the newest kept witnessed checkpoint was witnessed (null: none). */
  lastKeptAt(): number | null {
    return (
      this.sql.exec<{ at: number | null }>("SELECT max(witnessed_at) AS at FROM log_witnessed WHERE kept = 1").one()
        .at ?? null
    );
  }

  refusals(): RefusalRow[] {
    return this.sql
      .exec<RefusalRow>("SELECT witness, status, count, size, at, detail FROM witness_refusals ORDER BY at DESC")
      .toArray();
  }

  countRefusal(r: { witness: string; status: number; size: number; at: number; detail: string }): void {
    this.sql.exec(
      `INSERT INTO witness_refusals (witness, status, count, size, at, detail) VALUES (?, ?, 1, ?, ?, ?)
       ON CONFLICT (witness, status) DO UPDATE SET count = count + 1, size = excluded.size, at = excluded.at, detail = excluded.detail`,
      r.witness,
      r.status,
      r.size,
      r.at,
      r.detail,
    );
  }

  // ---- lottery cuts: the log's size at each draw's close ----

  lotteryCuts(): { closesAt: number; size: number | null }[] {
    return this.sql
      .exec<{ closes_at: number; size: number | null }>("SELECT closes_at, size FROM lottery_cuts ORDER BY closes_at")
      .toArray()
      .map((r) => ({ closesAt: r.closes_at, size: r.size }));
  }

  putLotteryCut(closesAt: number, size: number | null): void {
    this.sql.exec(
      "INSERT INTO lottery_cuts (closes_at, size) VALUES (?, ?) ON CONFLICT (closes_at) DO UPDATE SET size = coalesce(lottery_cuts.size, excluded.size)",
      closesAt,
      size,
    );
  }

  // ---- offline receipts: each registered one by its terminal's sequence, and each terminal's account ----

  offlineSeq(terminal: string, seq: number): { body_hash: string; counter: number } | undefined {
    return this.sql
      .exec<{ body_hash: string; counter: number }>(
        "SELECT body_hash, counter FROM offline_seqs WHERE terminal = ? AND seq = ?",
        terminal,
        seq,
      )
      .toArray()[0];
  }

  putOfflineSeq(terminal: string, seq: number, bodyHash: string, counter: number): void {
    this.sql.exec(
      "INSERT INTO offline_seqs (terminal, seq, body_hash, counter) VALUES (?, ?, ?, ?)",
      terminal,
      seq,
      bodyHash,
      counter,
    );
  }

  offlineTerminal(terminal: string): OfflineTerminalRow | undefined {
    return this.sql
      .exec<OfflineTerminalRow>("SELECT * FROM offline_terminals WHERE terminal = ?", terminal)
      .toArray()[0];
  }

  putOfflineTerminal(r: OfflineTerminalRow): void {
    this.sql.exec(
      `INSERT INTO offline_terminals (terminal, registered, max_seq, late, last_late_at, backlog, backlog_since, reported_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (terminal) DO UPDATE SET registered = excluded.registered, max_seq = excluded.max_seq,
         late = excluded.late, last_late_at = excluded.last_late_at, backlog = excluded.backlog,
         backlog_since = excluded.backlog_since, reported_at = excluded.reported_at`,
      r.terminal,
      r.registered,
      r.max_seq,
      r.late,
      r.last_late_at,
      r.backlog,
      r.backlog_since,
      r.reported_at,
    );
  }

  /** Every terminal's offline account (one row per terminal that ever registered an offline receipt). */
  offlineTerminals(): OfflineTerminalRow[] {
    return this.sql.exec<OfflineTerminalRow>("SELECT * FROM offline_terminals").toArray();
  }

  // ---- refunds: ledgers of originals on this shard, sagas of refunds issued here ----

  ledger(counter: number): string | undefined {
    return this.sql.exec<{ ledger: string }>("SELECT ledger FROM refund_ledger WHERE counter = ?", counter).toArray()[0]
      ?.ledger;
  }

  putLedger(counter: number, ledger: string, due: number | null): void {
    this.sql.exec(
      "INSERT INTO refund_ledger (counter, ledger, due) VALUES (?, ?, ?) ON CONFLICT (counter) DO UPDATE SET ledger = excluded.ledger, due = excluded.due",
      counter,
      ledger,
      due,
    );
  }

  /** Ledgers with a reserved hold due by `now`, earliest first. */
  dueLedgers(now: number, limit: number): { counter: number }[] {
    return this.sql
      .exec<{ counter: number }>(
        "SELECT counter FROM refund_ledger WHERE due IS NOT NULL AND due <= ? ORDER BY due LIMIT ?",
        now,
        limit,
      )
      .toArray();
  }

  /** When the earliest reserved hold is due (null: none). */
  firstLedgerDue(): number | null {
    return (
      this.sql.exec<{ due: number | null }>("SELECT min(due) AS due FROM refund_ledger WHERE due IS NOT NULL").one()
        .due ?? null
    );
  }

  sagas(): { hold: string; confirm: string }[] {
    return this.sql.exec<{ hold: string; confirm: string }>("SELECT hold, confirm FROM refund_sagas").toArray();
  }

  saga(hold: string): string | undefined {
    return this.sql.exec<{ confirm: string }>("SELECT confirm FROM refund_sagas WHERE hold = ?", hold).toArray()[0]
      ?.confirm;
  }

  putSaga(hold: string, confirm: string): void {
    this.sql.exec("INSERT OR REPLACE INTO refund_sagas (hold, confirm) VALUES (?, ?)", hold, confirm);
  }

  deleteSaga(hold: string): void {
    this.sql.exec("DELETE FROM refund_sagas WHERE hold = ?", hold);
  }
}
