/**
 * StoreShard: one Durable Object per shard of stores. It is the only writer of
 * its stores' chains, so issuing a code, linking the hash chain and recording
 * idempotency happen in one synchronous SQLite transaction with no `await`
 * between reading the chain head and writing the new record. RPC replies leave
 * only after that write is durable (the output gate; never allowUnconfirmed).
 *
 * It also holds its stores' terminal credentials (hashes), so a revocation takes
 * effect on the very next request, and an outbox it flushes to the queue from an
 * alarm until Postgres confirms each receipt.
 */
import { DurableObject } from "cloudflare:workers";
import { canonicalJson } from "../core/canonical.ts";
import { encodeCode, groupCode, MAX_COUNTER } from "../core/code.ts";
import { sha256Hex } from "../core/crypto.ts";
import { groupForSend, type OutboxReceipt, packMessages } from "../core/outbox.ts";
import { type Bucket, takeTokens } from "../core/rate-limit.ts";
import { buildRecord, GENESIS_HASH, type ReceiptInput } from "../core/receipt.ts";
import type { IssuedReceipt } from "../core/responses.ts";
import { type Env, intVar } from "../workers/env.ts";
import { migrate } from "./schema.ts";

export type IssueEntry = { idempotencyKey: string; bodyHash: string; receipt: ReceiptInput };

export type IssueOutcome =
  | { status: 201 | 200; receipt: IssuedReceipt }
  | { status: 409; code: "idempotency_conflict"; message: string }
  | { status: 429; code: "rate_limited"; message: string; retryAfter: number };

/**
 * `refused` is set when the whole request is refused: the terminal is unknown
 * or revoked (401), or the shard cannot take receipts right now (503).
 */
export type IssueReply = {
  refused:
    | { status: 401; code: "unauthorized"; message: string }
    | { status: 503; code: "unavailable"; message: string; retryAfter: number }
    | null;
  outcomes: IssueOutcome[];
};

export type StoredReceipt = {
  record: string;
  hash: string;
  /** Null once the predecessor is pruned (Postgres has it) or for a store's first receipt. */
  predecessorHash: string | null;
  /** What the chain after it says its hash is (see chainLink). */
  successorLink: string | null;
  storeName: string;
  storeTimezone: string;
};

export type ShardStats = {
  shard: number;
  issued: number;
  enqueued: number;
  persisted: number;
  unpersisted: number;
  oldestUnpersistedAgeMs: number | null;
  /** Queue messages sent since the object started, counting re-sends (cost accounting). */
  messagesSent: number;
};

const IDEMPOTENCY_TTL_MS = 25 * 60 * 60 * 1000; // ≥ 24 h, with an hour of slack
const IDEMPOTENCY_SWEEP_MS = 60 * 60 * 1000; // expired keys are swept hourly (no index to keep)
const SWEEP_CHUNK = 5_000; // keys deleted per alarm while sweeping
const REDRIVE_AFTER_MS = 60 * 60 * 1000; // sent but never confirmed: send again (after the queue gave up)
const IDLE_CHECK_MS = 60 * 1000; // alarm cadence while anything is unpersisted
const FLUSH_COUNT = 500; // flush at once when this many are pending
const FLUSH_READ_LIMIT = 5_000; // rows read per flush round

/**
 * Rows written are billed, so only what cannot be derived is stored: the shard
 * number, the outbox watermark, the redrive checkpoint and the last sweep, each
 * written at most once per alarm. Everything else follows:
 * counters are dense and sent in order, so every counter up to `sentUpTo` was
 * issued and every later one is still held.
 */
type Meta = {
  shard: number;
  /** The last counter issued: max(highest held, sentUpTo). */
  counter: number;
  /**
   * Every receipt up to this counter has been handed to the queue at least once
   * (or was being handed when the object stopped). It never moves back, so it is
   * also the floor under which no counter is ever issued again.
   */
  sentUpTo: number;
  /** Sent successfully up to here, in this object's life: the next flush starts after it. */
  cursor: number;
  /** Every receipt up to here was sent at least REDRIVE_AFTER_MS ago (see redrive). */
  redriveHorizon: number;
  /** sentUpTo as of `checkpointAt`; becomes the horizon REDRIVE_AFTER_MS later. */
  checkpoint: number;
  checkpointAt: number;
  /** Receipts held (not yet confirmed in Postgres); persisted = counter − held. */
  held: number;
  /** Queue messages sent since this object started (cost accounting). */
  messages: number;
  /** When expired idempotency keys were last swept. */
  sweptAt: number;
};

export class StoreShard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly meta: Meta;
  private alarmAt: number | null = null;
  private sendFailures = 0;
  /** Where an idempotency sweep part way through continues (see sweepIdempotency). */
  private sweepFrom: { terminal: string; key: string } | null = null;
  /** Where a redrive part way through continues (see redrive). */
  private redriveFrom = 0;
  /** Per-store token buckets (in memory: a restart just refills them). */
  private readonly buckets = new Map<string, Bucket>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(this.sql);
    const m = Object.fromEntries(
      this.sql
        .exec<{ k: string; v: number }>("SELECT k, v FROM meta")
        .toArray()
        .map((r) => [r.k, r.v]),
    );
    const held = this.one<{ n: number; c: number | null }>("SELECT count(*) AS n, max(counter) AS c FROM receipts");
    const sentUpTo = m.sent_up_to ?? 0;
    this.meta = {
      shard: m.shard ?? -1,
      counter: Math.max(held.c ?? 0, sentUpTo),
      sentUpTo,
      // After a restart, rows that were in flight are left to the redrive.
      cursor: sentUpTo,
      redriveHorizon: m.redrive_horizon ?? 0,
      checkpoint: m.checkpoint ?? 0,
      checkpointAt: m.checkpoint_at ?? 0,
      held: held.n,
      messages: 0,
      sweptAt: m.swept_at ?? 0,
    };
    ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  private get unpersisted(): number {
    return this.meta.held;
  }

  private get pending(): number {
    return this.meta.counter - this.meta.cursor;
  }

  // ---- administration (called by the tenant API) ----

  upsertStore(shard: number, s: { tenantId: string; storeId: string; name: string; timezone: string }): void {
    this.claimShard(shard);
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

  /**
   * Stores a terminal's token hash. Postgres decides whether the id is new (the
   * tenant API inserts there first), so this replaces whatever the shard had for
   * that id: a retry after a lost reply, or a registration whose Postgres row was
   * rolled back, must not leave the id unusable. The old token stops working.
   * Carries the store too, so a store whose own upsert never reached the shard
   * is created here.
   */
  registerTerminal(
    shard: number,
    store: { tenantId: string; storeId: string; name: string; timezone: string },
    t: { terminalId: string; tokenHash: string },
  ): void {
    this.claimShard(shard);
    if (!this.store(store.tenantId, store.storeId)) this.upsertStore(shard, store);
    this.sql.exec(
      `INSERT INTO terminals (token_hash, tenant_id, store_id, terminal_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant_id, store_id, terminal_id)
       DO UPDATE SET token_hash = excluded.token_hash, revoked_at = NULL`,
      t.tokenHash,
      store.tenantId,
      store.storeId,
      t.terminalId,
    );
  }

  /** Takes effect for the very next request. False when no such terminal. */
  revokeTerminal(t: { tenantId: string; storeId: string; terminalId: string }): boolean {
    const cursor = this.sql.exec(
      "UPDATE terminals SET revoked_at = coalesce(revoked_at, ?) WHERE tenant_id = ? AND store_id = ? AND terminal_id = ?",
      Date.now(),
      t.tenantId,
      t.storeId,
      t.terminalId,
    );
    return cursor.rowsWritten > 0;
  }

  // ---- the hot path ----

  issue(req: { shard: number; tokenHash: string; baseUrl: string; entries: IssueEntry[] }): IssueReply {
    this.claimShard(req.shard);
    const terminal = this.sql
      .exec<{ tenant_id: string; store_id: string; terminal_id: string; revoked_at: number | null }>(
        "SELECT tenant_id, store_id, terminal_id, revoked_at FROM terminals WHERE token_hash = ?",
        req.tokenHash,
      )
      .toArray()[0];
    if (!terminal || terminal.revoked_at !== null) {
      const message = terminal ? "This terminal has been revoked." : "Unknown terminal token.";
      return { refused: { status: 401, code: "unauthorized", message }, outcomes: [] };
    }
    const outboxLimit = intVar(this.env.OUTBOX_LIMIT, 2_000_000);
    const storeRate = intVar(this.env.STORE_MAX_RPS, 200);
    const outcomes: IssueOutcome[] = [];
    const who = `${terminal.tenant_id}/${terminal.store_id}/${terminal.terminal_id}`;
    for (const entry of req.entries) {
      const known = this.sql
        .exec<{ body_hash: string; response: string }>(
          "SELECT body_hash, response FROM idempotency WHERE terminal = ? AND key = ?",
          who,
          entry.idempotencyKey,
        )
        .toArray()[0];
      if (known) {
        outcomes.push(
          known.body_hash === entry.bodyHash
            ? { status: 200, receipt: JSON.parse(known.response) as IssuedReceipt }
            : {
                status: 409,
                code: "idempotency_conflict",
                message: "This Idempotency-Key was used with a different body.",
              },
        );
        continue;
      }
      // Shard-wide, so the whole request (replays above still answer): Postgres is
      // far behind, or the code space is spent. Entries issued before this point
      // are durable and replay on the retry.
      if (this.unpersisted >= outboxLimit || this.meta.counter >= MAX_COUNTER) {
        const message = "This shard is catching up; retry shortly with the same Idempotency-Key.";
        this.scheduleAlarm();
        return { refused: { status: 503, code: "unavailable", message, retryAfter: 5 }, outcomes: [] };
      }
      // One store cannot starve the others on its shard (docs/scale.md §10).
      const storeKey = `${terminal.tenant_id}/${terminal.store_id}`;
      const taken = takeTokens(this.buckets.get(storeKey), Date.now(), { rate: storeRate, burst: storeRate * 2 });
      this.buckets.set(storeKey, taken.bucket);
      if (!taken.ok) {
        const message = `This store is sending more than ${storeRate} receipts a second; slow down.`;
        outcomes.push({ status: 429, code: "rate_limited", message, retryAfter: taken.retryAfterSeconds });
        continue;
      }
      outcomes.push({
        status: 201,
        receipt: this.append(terminal.tenant_id, terminal.store_id, terminal.terminal_id, entry, who, req.baseUrl),
      });
    }
    this.scheduleAlarm();
    return { refused: null, outcomes };
  }

  /**
   * One receipt: code, chain link, record, idempotency entry, atomically. Three
   * rows written: the receipt (which is also the outbox entry), the store's
   * head, the idempotency key.
   */
  private append(
    tenantId: string,
    storeId: string,
    terminalId: string,
    entry: IssueEntry,
    who: string,
    baseUrl: string,
  ): IssuedReceipt {
    return this.ctx.storage.transactionSync(() => {
      const head = this.store(tenantId, storeId);
      if (!head) throw new Error(`store ${tenantId}/${storeId} has a terminal but is not on this shard`);
      const counter = this.meta.counter + 1;
      const code = encodeCode(this.env.CODE_KEY, { shard: this.meta.shard, counter });
      const receivedAt = Date.now();
      const record = buildRecord({
        input: entry.receipt,
        code,
        tenantId,
        storeId,
        terminalId,
        seq: head.seq + 1,
        receivedAt,
        prevHash: head.head_hash,
      });
      const json = canonicalJson(record);
      const hash = sha256Hex(json);
      const printed = groupCode(code);
      const issued: IssuedReceipt = {
        code: printed,
        verifyUrl: `${baseUrl}/r/${printed}`,
        tenantId,
        storeId,
        terminalId,
        seq: record.seq,
        issuedAt: record.issuedAt,
        receivedAt: record.receivedAt,
        hash,
        prevHash: record.prevHash,
      };
      this.sql.exec(
        `INSERT INTO receipts (counter, prev_counter, code, tenant_id, store_id, seq, hash, record, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        counter,
        head.head_counter,
        code,
        tenantId,
        storeId,
        record.seq,
        hash,
        json,
        receivedAt,
      );
      this.sql.exec(
        "UPDATE stores SET seq = ?, head_hash = ?, head_counter = ? WHERE tenant_id = ? AND store_id = ?",
        record.seq,
        hash,
        counter,
        tenantId,
        storeId,
      );
      this.sql.exec(
        "INSERT INTO idempotency (terminal, key, body_hash, response, created_at) VALUES (?, ?, ?, ?, ?)",
        who,
        entry.idempotencyKey,
        entry.bodyHash,
        JSON.stringify(issued),
        receivedAt,
      );
      this.meta.counter = counter;
      this.meta.held++;
      return issued;
    });
  }

  // ---- reads (verify) ----

  /**
   * A receipt this shard still holds, i.e. not yet confirmed in Postgres, with
   * its predecessor's hash if that is still held too.
   */
  lookup(counter: number): StoredReceipt | null {
    const row = this.sql
      .exec<{
        record: string;
        hash: string;
        pred_hash: string | null;
        name: string;
        timezone: string;
        tenant_id: string;
        store_id: string;
        seq: number;
      }>(
        `SELECT r.record, r.hash, p.hash AS pred_hash, s.name, s.timezone, r.tenant_id, r.store_id, r.seq
         FROM receipts r
         JOIN stores s ON s.tenant_id = r.tenant_id AND s.store_id = r.store_id
         LEFT JOIN receipts p ON p.counter = r.prev_counter
         WHERE r.counter = ?`,
        counter,
      )
      .toArray()[0];
    if (!row) return null;
    return {
      record: row.record,
      hash: row.hash,
      predecessorHash: row.pred_hash,
      successorLink: this.chainLink(row.tenant_id, row.store_id, row.seq, counter),
      storeName: row.name,
      storeTimezone: row.timezone,
    };
  }

  /**
   * What the chain after a store's receipt says its hash is: the chain head if
   * it is the latest, else the prevHash of the next receipt if this shard still
   * holds it (found from `counter` forward: its prev_counter is `counter`);
   * null when only Postgres knows.
   */
  chainLink(tenantId: string, storeId: string, seq: number, counter: number): string | null {
    const head = this.store(tenantId, storeId);
    if (!head) return null;
    if (head.seq === seq) return head.head_hash;
    const next = this.sql
      .exec<{ record: string }>(
        "SELECT record FROM receipts WHERE counter > ? AND counter <= ? AND prev_counter = ? ORDER BY counter LIMIT 1",
        counter,
        head.head_counter ?? this.meta.counter,
        counter,
      )
      .toArray()[0];
    return next ? (JSON.parse(next.record) as { prevHash: string }).prevHash : null;
  }

  /** Records still held here, for entries that travelled by reference (too large for a message). */
  records(counters: number[]): { counter: number; record: string }[] {
    return counters.flatMap((c) =>
      this.sql
        .exec<{ counter: number; record: string }>("SELECT counter, record FROM receipts WHERE counter = ?", c)
        .toArray(),
    );
  }

  /**
   * The hash of a store's receipt by seq while it is still held, searched
   * backwards from `below` (the counter of the receipt that follows it): for a
   * receipt Postgres has whose predecessor it does not have yet.
   */
  hashAt(tenantId: string, storeId: string, seq: number, below: number): string | null {
    return (
      this.sql
        .exec<{ hash: string }>(
          `SELECT hash FROM receipts WHERE counter < ? AND tenant_id = ? AND store_id = ? AND seq = ?
           ORDER BY counter DESC LIMIT 1`,
          below,
          tenantId,
          storeId,
          seq,
        )
        .toArray()[0]?.hash ?? null
    );
  }

  // ---- pipeline ----

  /** Postgres has these: drop them from the outbox. Safe to call again. */
  markPersisted(counters: number[]): number {
    let removed = 0;
    for (let i = 0; i < counters.length; i += 99) {
      const chunk = counters.slice(i, i + 99);
      removed += this.sql.exec(
        `DELETE FROM receipts WHERE counter IN (${chunk.map(() => "?").join(",")})`,
        ...chunk,
      ).rowsWritten;
    }
    this.meta.held -= removed;
    return removed;
  }

  stats(): ShardStats {
    const oldest = this.sql
      .exec<{ t: number }>("SELECT received_at AS t FROM receipts ORDER BY counter LIMIT 1")
      .toArray()[0]?.t;
    return {
      shard: this.meta.shard,
      issued: this.meta.counter,
      enqueued: this.meta.sentUpTo,
      persisted: this.meta.counter - this.meta.held,
      unpersisted: this.meta.held,
      oldestUnpersistedAgeMs: oldest === undefined ? null : Date.now() - oldest,
      messagesSent: this.meta.messages,
    };
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    try {
      await this.flush();
      await this.redrive(now);
      this.sendFailures = 0;
    } catch (e) {
      // Nothing is lost: the rows stay in the outbox and the next alarm retries.
      this.sendFailures++;
      console.error(JSON.stringify({ msg: "outbox flush failed", shard: this.meta.shard, error: String(e) }));
    }
    if (this.sweepFrom || now - this.meta.sweptAt >= IDEMPOTENCY_SWEEP_MS) this.sweepIdempotency(now);
    this.scheduleAlarm();
  }

  /**
   * Deletes expired idempotency keys one page of the primary key per alarm, so
   * a sweep reads the table once and a large shard never stalls for long (an
   * index on age would cost a row written per receipt).
   */
  private sweepIdempotency(now: number): void {
    const from = this.sweepFrom ?? { terminal: "", key: "" };
    const page = "(terminal, key) > (?, ?) ORDER BY terminal, key LIMIT ?";
    const last = this.sql
      .exec<{ terminal: string; key: string }>(
        `SELECT terminal, key FROM idempotency WHERE ${page} OFFSET ?`,
        from.terminal,
        from.key,
        1,
        SWEEP_CHUNK - 1,
      )
      .toArray()[0];
    this.sql.exec(
      `DELETE FROM idempotency WHERE created_at < ? AND (terminal, key) IN
         (SELECT terminal, key FROM idempotency WHERE ${page})`,
      now - IDEMPOTENCY_TTL_MS,
      from.terminal,
      from.key,
      SWEEP_CHUNK,
    );
    this.sweepFrom = last ?? null;
    if (!last) {
      this.meta.sweptAt = now;
      this.setMeta("swept_at", now);
    }
  }

  /** Sends everything past the cursor, in counter order. */
  private async flush(): Promise<void> {
    // What was issued before this flush began: receipts issued while it awaits
    // the queue go with the next tick, so one alarm never runs for ever.
    const target = this.meta.counter;
    while (this.meta.cursor < target) {
      const rows = this.sql
        .exec<OutboxReceipt>(
          "SELECT counter, hash, record FROM receipts WHERE counter > ? AND counter <= ? ORDER BY counter LIMIT ?",
          this.meta.cursor,
          target,
          FLUSH_READ_LIMIT,
        )
        .toArray();
      const last = rows.at(-1)?.counter ?? target; // none left: all were pruned
      // The watermark moves before the send and never back: the consumer may
      // persist (and the shard prune) these rows even if sendBatch then throws,
      // and a counter must never be issued twice. Rows that really failed are
      // retried from the in-memory cursor, or after a restart by the redrive.
      if (last > this.meta.sentUpTo) {
        this.meta.sentUpTo = last;
        this.setMeta("sent_up_to", last);
      }
      if (rows.length) await this.send(rows);
      this.meta.cursor = last;
    }
  }

  /**
   * Sends again what Postgres never confirmed an hour after it was sent (the
   * queue gave up, a message was lost, or the object restarted mid-send). Only
   * counters at or below the horizon qualify: those were all sent at least
   * REDRIVE_AFTER_MS ago, so a receipt whose first send was late is not sent twice.
   */
  private async redrive(now: number): Promise<void> {
    if (now - this.meta.checkpointAt >= REDRIVE_AFTER_MS) {
      this.meta.redriveHorizon = this.meta.checkpoint;
      this.meta.checkpoint = this.meta.sentUpTo;
      this.meta.checkpointAt = now;
      this.setMeta("redrive_horizon", this.meta.redriveHorizon);
      this.setMeta("checkpoint", this.meta.checkpoint);
      this.setMeta("checkpoint_at", now);
    }
    const cutoff = now - REDRIVE_AFTER_MS;
    // A page per alarm, continuing where the last one stopped, until a short page.
    const rows = this.sql
      .exec<OutboxReceipt>(
        `SELECT counter, hash, record FROM receipts
         WHERE counter > ? AND counter <= ? AND coalesce(enqueued_at, 0) < ? ORDER BY counter LIMIT ?`,
        this.redriveFrom,
        this.meta.redriveHorizon,
        cutoff,
        FLUSH_READ_LIMIT,
      )
      .toArray();
    this.redriveFrom = rows.length === FLUSH_READ_LIMIT ? (rows.at(-1)?.counter ?? 0) : 0;
    if (!rows.length) return;
    await this.send(rows);
    const sent = rows.map((r) => r.counter);
    for (let i = 0; i < sent.length; i += 98) {
      const chunk = sent.slice(i, i + 98);
      this.sql.exec(
        `UPDATE receipts SET enqueued_at = ? WHERE counter IN (${chunk.map(() => "?").join(",")})`,
        now,
        ...chunk,
      );
    }
    console.warn(JSON.stringify({ msg: "outbox redrive", shard: this.meta.shard, receipts: rows.length }));
  }

  private async send(rows: OutboxReceipt[]): Promise<void> {
    for (const group of groupForSend(packMessages(this.meta.shard, rows))) {
      await this.env.RECEIPTS_QUEUE.sendBatch(group.map((body) => ({ body, contentType: "json" })));
      this.meta.messages += group.length;
    }
  }

  private scheduleAlarm(): void {
    const now = Date.now();
    let at: number;
    if (this.pending > 0) {
      const delay = this.sendFailures
        ? Math.min(30_000, 100 * 2 ** this.sendFailures)
        : this.pending >= FLUSH_COUNT
          ? 0
          : intVar(this.env.FLUSH_MS, 100);
      at = now + delay;
    } else if (this.sweepFrom || this.redriveFrom) {
      at = now + 1_000; // a sweep or redrive is part way through
    } else if (this.unpersisted > 0) {
      at = now + IDLE_CHECK_MS; // watches for receipts Postgres never confirmed
    } else {
      at = Math.max(now, this.meta.sweptAt + IDEMPOTENCY_SWEEP_MS);
    }
    if (this.alarmAt === null || at < this.alarmAt) {
      this.alarmAt = at;
      void this.ctx.storage.setAlarm(at);
    }
  }

  // ---- helpers ----

  private store(tenantId: string, storeId: string) {
    return this.sql
      .exec<{ seq: number; head_hash: string; head_counter: number | null }>(
        "SELECT seq, head_hash, head_counter FROM stores WHERE tenant_id = ? AND store_id = ?",
        tenantId,
        storeId,
      )
      .toArray()[0];
  }

  private claimShard(shard: number): void {
    if (this.meta.shard === shard) return;
    if (this.meta.shard !== -1) throw new Error(`shard object ${this.meta.shard} was addressed as ${shard}`);
    this.meta.shard = shard;
    this.setMeta("shard", shard);
  }

  private setMeta(k: string, v: number): void {
    this.sql.exec("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
  }

  private one<T extends Record<string, SqlStorageValue>>(query: string): T {
    return this.sql.exec<T>(query).one();
  }
}
