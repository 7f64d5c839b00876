/**
 * Typed SQL over the shard's own tables (schema.ts). Every statement the shard
 * runs is here, so what a receipt costs in rows written can be read in one file.
 */
import type { OutboxReceipt } from "../core/outbox.ts";
import { GENESIS_HASH } from "../core/receipt.ts";

export type Terminal = { tenant_id: string; store_id: string; terminal_id: string; revoked_at: number | null };
export type StoreHead = { seq: number; head_hash: string; head_counter: number | null };
export type StoreInfo = { tenantId: string; storeId: string; name: string; timezone: string };
export type HeldReceipt = { record: string; hash: string; name: string; timezone: string };
export type LogHeadRow = { size: number; edge: ArrayBuffer; tail: ArrayBuffer; last_received_at: number };
export type CheckpointRow = { size: number; note: string; signed_at: number };

const bytes = (b: ArrayBuffer | Uint8Array) => (b instanceof Uint8Array ? b : new Uint8Array(b));

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

  setStoreHead(tenantId: string, storeId: string, head: { seq: number; hash: string; counter: number }): void {
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
        "SELECT tenant_id, store_id, terminal_id, revoked_at FROM terminals WHERE token_hash = ?",
        tokenHash,
      )
      .toArray()[0];
  }

  putTerminal(t: { tenantId: string; storeId: string; terminalId: string; tokenHash: string }): void {
    this.sql.exec(
      `INSERT INTO terminals (token_hash, tenant_id, store_id, terminal_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant_id, store_id, terminal_id)
       DO UPDATE SET token_hash = excluded.token_hash, revoked_at = NULL`,
      t.tokenHash,
      t.tenantId,
      t.storeId,
      t.terminalId,
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

  // ---- idempotency ----

  idempotency(terminal: string, key: string): { body_hash: string; response: string } | undefined {
    return this.sql
      .exec<{ body_hash: string; response: string }>(
        "SELECT body_hash, response FROM idempotency WHERE terminal = ? AND key = ?",
        terminal,
        key,
      )
      .toArray()[0];
  }

  putIdempotency(terminal: string, key: string, bodyHash: string, response: string, at: number): void {
    this.sql.exec(
      "INSERT INTO idempotency (terminal, key, body_hash, response, created_at) VALUES (?, ?, ?, ?, ?)",
      terminal,
      key,
      bodyHash,
      response,
      at,
    );
  }

  /**
   * Deletes expired keys in one page of the primary key after `from`; returns
   * where the next page starts (null when the table has been walked).
   */
  sweepIdempotency(
    from: { terminal: string; key: string },
    pageSize: number,
    expiredBefore: number,
  ): { terminal: string; key: string } | null {
    const page = "(terminal, key) > (?, ?) ORDER BY terminal, key LIMIT ?";
    const last = this.sql
      .exec<{ terminal: string; key: string }>(
        `SELECT terminal, key FROM idempotency WHERE ${page} OFFSET ?`,
        from.terminal,
        from.key,
        1,
        pageSize - 1,
      )
      .toArray()[0];
    this.sql.exec(
      `DELETE FROM idempotency WHERE created_at < ? AND (terminal, key) IN
         (SELECT terminal, key FROM idempotency WHERE ${page})`,
      expiredBefore,
      from.terminal,
      from.key,
      pageSize,
    );
    return last ?? null;
  }

  // ---- receipts held until Postgres confirms them (the outbox) ----

  insertReceipt(r: {
    counter: number;
    prevCounter: number | null;
    code: string;
    tenantId: string;
    storeId: string;
    seq: number;
    hash: string;
    record: string;
    receivedAt: number;
  }): void {
    this.sql.exec(
      `INSERT INTO receipts (counter, prev_counter, code, tenant_id, store_id, seq, hash, record, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      r.counter,
      r.prevCounter,
      r.code,
      r.tenantId,
      r.storeId,
      r.seq,
      r.hash,
      r.record,
      r.receivedAt,
    );
  }

  heldReceipt(counter: number): HeldReceipt | undefined {
    return this.sql
      .exec<HeldReceipt>(
        `SELECT r.record, r.hash, s.name, s.timezone FROM receipts r
         JOIN stores s ON s.tenant_id = r.tenant_id AND s.store_id = r.store_id
         WHERE r.counter = ?`,
        counter,
      )
      .toArray()[0];
  }

  records(counters: number[]): { counter: number; record: string }[] {
    return counters.flatMap((c) =>
      this.sql
        .exec<{ counter: number; record: string }>("SELECT counter, record FROM receipts WHERE counter = ?", c)
        .toArray(),
    );
  }

  /** Held receipts with counter in (after, upTo], in order. */
  outboxPage(after: number, upTo: number, limit: number): OutboxReceipt[] {
    return this.sql
      .exec<OutboxReceipt>(
        "SELECT counter, hash, record FROM receipts WHERE counter > ? AND counter <= ? ORDER BY counter LIMIT ?",
        after,
        upTo,
        limit,
      )
      .toArray();
  }

  /** Like outboxPage, but only those not re-sent since `sentBefore`. */
  redrivePage(after: number, upTo: number, sentBefore: number, limit: number): OutboxReceipt[] {
    return this.sql
      .exec<OutboxReceipt>(
        `SELECT counter, hash, record FROM receipts
         WHERE counter > ? AND counter <= ? AND coalesce(enqueued_at, 0) < ? ORDER BY counter LIMIT ?`,
        after,
        upTo,
        sentBefore,
        limit,
      )
      .toArray();
  }

  markResent(counters: number[], at: number): void {
    for (let i = 0; i < counters.length; i += 98) {
      const chunk = counters.slice(i, i + 98);
      this.sql.exec(
        `UPDATE receipts SET enqueued_at = ? WHERE counter IN (${chunk.map(() => "?").join(",")})`,
        at,
        ...chunk,
      );
    }
  }

  deleteReceipts(counters: number[]): number {
    let removed = 0;
    for (let i = 0; i < counters.length; i += 99) {
      const chunk = counters.slice(i, i + 99);
      removed += this.sql.exec(
        `DELETE FROM receipts WHERE counter IN (${chunk.map(() => "?").join(",")})`,
        ...chunk,
      ).rowsWritten;
    }
    return removed;
  }

  heldSummary(): { count: number; maxCounter: number | null } {
    const r = this.sql
      .exec<{ n: number; c: number | null }>("SELECT count(*) AS n, max(counter) AS c FROM receipts")
      .one();
    return { count: r.n, maxCounter: r.c };
  }

  oldestHeldAt(): number | undefined {
    return this.sql.exec<{ t: number }>("SELECT received_at AS t FROM receipts ORDER BY counter LIMIT 1").toArray()[0]
      ?.t;
  }

  // ---- the transparency log ----

  logHead(): LogHeadRow | undefined {
    return this.sql
      .exec<LogHeadRow>("SELECT size, edge, tail, last_received_at FROM log_head WHERE id = 1")
      .toArray()[0];
  }

  putLogHead(h: { size: number; edge: Uint8Array; tail: Uint8Array; lastReceivedAt: number }): void {
    this.sql.exec(
      `INSERT INTO log_head (id, size, edge, tail, last_received_at) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET size = excluded.size, edge = excluded.edge, tail = excluded.tail,
         last_received_at = excluded.last_received_at`,
      h.size,
      h.edge,
      h.tail,
      h.lastReceivedAt,
    );
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
}
