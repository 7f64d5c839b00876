/**
 * The outbox pump: every issued receipt is held (in the batch ring) until
 * Postgres confirms it, and sent to the queue in counter order from a
 * watermark, many receipts per message. Anything never confirmed is sent
 * again an hour after it was sent, unless Postgres looks unreachable (see redrive).
 */

import { groupForSend, type OutboxReceipt, packMessages } from "../core/outbox.ts";
import { describeError } from "../kit/describe-error.ts";
import type { HoldStats } from "../kit/group-commit.ts";
import type { OfflineStats } from "./offline.ts";
import type { ShardDeps } from "./ports.ts";
import type { BatchRing, BatchStats } from "./ring.ts";
import type { ShardTables } from "./tables.ts";
import { Watermark } from "./watermark.ts";

export type ShardStats = {
  shard: number;
  issued: number;
  enqueued: number;
  persisted: number;
  unpersisted: number;
  oldestUnpersistedAgeMs: number | null;
  /** Queue messages sent since the object started, counting re-sends (cost accounting). */
  messagesSent: number;
  /** Group commits since the object started: how many, how many receipts, and their sizes. */
  commits: BatchStats;
  /** Lone receipts that held for company: the holds that gathered one, and those that waited for nothing. */
  holds: HoldStats;
  /** The log's size (= the last counter issued), and how old its latest checkpoint is (null: none yet). */
  logSize: number;
  checkpointAgeMs: number | null;
  /** Share of the code space (the counters of the layout the shard issues) used. */
  codeSpaceUsed: number;
  /** Offline receipts: late, gaps, backlogs, terminals over their budget (offline.ts). */
  offline: OfflineStats;
};

const REDRIVE_AFTER_MS = 60 * 60 * 1000; // sent but never confirmed: send again (after the queue gave up)
const IDLE_CHECK_MS = 60 * 1000; // alarm cadence while anything is unpersisted
const FLUSH_COUNT = 500; // flush at once when this many are pending
const FLUSH_READ_LIMIT = 5_000; // rows read per flush round
const PROBE_RECEIPTS = 100; // a redrive pass sends this many first, then waits for a confirmation
const PROBE_WAIT_MS = 5_000; // alarm cadence while a pass waits on its probe

/**
 * Rows written are billed, so the pump stores only what cannot be derived:
 * the watermark and the redrive marks, each written at most once per alarm;
 * what Postgres confirmed is kept in memory by the ring (ring.ts).
 * Counters are dense and sent in order, so every counter up to `sentUpTo` was
 * handed to the queue and every later one is still held.
 */
export class OutboxPump {
  /** Sent successfully up to here, in this object's life: the next flush starts after it. */
  private cursor: number;
  /** Every receipt up to here was sent at least REDRIVE_AFTER_MS ago (see redrive). */
  private redriveHorizon: number;
  /** sentUpTo as of `markAt`; becomes the horizon REDRIVE_AFTER_MS later. */
  private mark: number;
  private markAt: number;
  private readonly sent: Watermark;
  private messages = 0;
  private failures = 0;
  /** After a failed send, the pump waits until then, whatever else wakes the object (checkpoints, watermarks). */
  private retryAt = 0;
  /** Where a redrive pass part way through continues (null: no pass under way). */
  private redriveFrom: number | null;
  /** The one pass after a restart re-sends up to here (null once done). */
  private startupPass: number | null;
  /**
   * A pass starts with a probe ("due"); once sent, it waits (`confirmations`
   * as they were when it was sent) until
   * Postgres confirms anything. While Postgres is unreachable the queue is
   * still retrying the originals: re-sending the backlog would only add
   * messages and billed writes, so an outage costs one probe an hour.
   */
  private probe: "due" | { confirmations: number } | null = "due";
  /** How often Postgres confirmed anything to this object (a count: clocks stand still within a request). */
  private confirmations = 0;

  private readonly tables: ShardTables;
  private readonly ring: BatchRing;
  private readonly deps: Pick<ShardDeps, "queue" | "config" | "clock" | "logger">;

  constructor(
    tables: ShardTables,
    ring: BatchRing,
    deps: Pick<ShardDeps, "queue" | "config" | "clock" | "logger">,
    meta: Record<string, number>,
  ) {
    this.tables = tables;
    this.ring = ring;
    this.deps = deps;
    this.sent = new Watermark(tables, "sent_up_to", meta);
    // After a restart, rows that were in flight are left to the redrive.
    this.cursor = this.sentUpTo;
    this.redriveHorizon = meta.redrive_horizon ?? 0;
    // After a restart what Postgres confirmed shortly before is not known (confirmations live in
    // memory, the watermark is stored lazily): one pass re-sends everything sent and unconfirmed,
    // so no batch stays held (and its ring slot taken) until the hourly redrive. Postgres ignores
    // what it has.
    this.startupPass = this.sentUpTo;
    this.mark = meta.checkpoint ?? 0;
    this.markAt = meta.checkpoint_at ?? 0;
    // What was confirmed before a restart is not known in memory: one pass re-sends what is under the horizon.
    this.redriveFrom = 0;
  }

  /**
   * Every receipt up to this counter has been handed to the queue at least once
   * (or was being handed when the object stopped). It never moves back.
   */
  get sentUpTo(): number {
    return this.sent.value;
  }

  /** Stores sent_up_to if it moved (watermark.ts). */
  storeWatermark(now: number): void {
    this.sent.store(now);
  }

  watermarkAt(): number | null {
    return this.sent.dueAt();
  }

  /** Receipts held (not yet confirmed in Postgres). */
  get held(): number {
    return this.ring.held;
  }

  /** Receipts issued but not yet sent: counters (cursor, issued]. */
  pending(issued: number): number {
    return issued - this.cursor;
  }

  /** Postgres has these: drop them from the outbox. Safe to call again. */
  markPersisted(counters: number[]): number {
    if (counters.length) this.confirmations++;
    return this.ring.markPersisted(counters);
  }

  /** A redrive pass has sent its probe and Postgres has confirmed nothing since. */
  get redrivePaused(): boolean {
    const p = this.probe;
    return this.redriveFrom !== null && p !== null && p !== "due" && this.confirmations === p.confirmations;
  }

  /** Sends everything issued before this call, in counter order. */
  async flush(shard: number, issued: number): Promise<void> {
    // Receipts issued while this awaits the queue go with the next tick, so one alarm never runs for ever.
    const target = issued;
    while (this.cursor < target) {
      const rows = this.ring.page(this.cursor, target, FLUSH_READ_LIMIT);
      const last = rows.at(-1)?.counter ?? target; // none left: all were pruned
      // The watermark moves before the send and never back. It is stored at
      // most every 2 s: counters come from the log's size, stored with each
      // batch, so a watermark 2 s stale after a restart only sends some
      // receipts again (Postgres ignores what it has). Rows that really failed
      // are retried from the in-memory cursor, or after a restart by the redrive.
      if (last > this.sentUpTo) {
        this.sent.value = last;
        this.sent.store(this.deps.clock());
      }
      if (rows.length) await this.send(shard, rows);
      this.cursor = last;
    }
  }

  /**
   * Sends again what Postgres never confirmed, an hour after it was sent.
   * Every hour the horizon moves to what had been sent by the hour before, and
   * one pass (a page per alarm) re-sends the unconfirmed receipts under it.
   * Each pass (the hourly ones and the one after a restart) first sends one
   * probe and goes on only once Postgres has confirmed something since.
   */
  async redrive(shard: number, now: number): Promise<void> {
    if (this.startupPass === null && now - this.markAt >= REDRIVE_AFTER_MS) {
      this.redriveHorizon = this.mark;
      this.mark = this.sentUpTo;
      this.markAt = now;
      this.tables.setMeta("redrive_horizon", this.redriveHorizon);
      this.tables.setMeta("checkpoint", this.mark);
      this.tables.setMeta("checkpoint_at", now);
      this.redriveFrom = 0;
      this.probe = "due";
    }
    if (this.redriveFrom === null) return;
    if (this.redrivePaused) return;
    const horizon = this.startupPass ?? this.redriveHorizon;
    if (this.probe === "due") {
      const rows = this.ring.page(this.redriveFrom, horizon, PROBE_RECEIPTS);
      if (rows.length) {
        // The pass goes on from where it is: what the probe got confirmed is skipped, the rest sent again.
        // Counted before the send, so a confirmation that arrives while it is on its way counts.
        const before = this.confirmations;
        await this.send(shard, rows);
        this.probe = { confirmations: before };
        this.deps.logger.warn({ msg: "outbox redrive probe", shard, receipts: rows.length });
        return;
      }
    }
    this.probe = null;
    const rows = this.ring.page(this.redriveFrom, horizon, FLUSH_READ_LIMIT);
    this.redriveFrom = rows.length === FLUSH_READ_LIMIT ? (rows.at(-1)?.counter ?? null) : null;
    // The startup pass is done: the hourly redrive takes over (from the start at its next hour).
    if (this.redriveFrom === null && this.startupPass !== null) this.startupPass = null;
    if (!rows.length) return;
    await this.send(shard, rows);
    this.deps.logger.warn({ msg: "outbox redrive", shard, receipts: rows.length });
  }

  /**
   * Runs flush and redrive; a failure leaves everything held, and the pump
   * backs off (100 ms doubling to 30 s) even if the alarm runs sooner for
   * something else.
   */
  async run(shard: number, issued: number, now: number): Promise<void> {
    if (now < this.retryAt) return;
    try {
      await this.flush(shard, issued);
      await this.redrive(shard, now);
      this.failures = 0;
      this.retryAt = 0;
    } catch (e) {
      this.failures++;
      this.retryAt = now + Math.min(30_000, 100 * 2 ** this.failures);
      this.deps.logger.error({ msg: "outbox flush failed", shard, error: describeError(e) });
    }
  }

  private async send(shard: number, rows: OutboxReceipt[]): Promise<void> {
    for (const group of groupForSend(packMessages(shard, rows))) {
      await this.deps.queue.sendBatch(group.map((body) => ({ body, contentType: "json" })));
      this.messages += group.length;
    }
  }

  /** When the pump next needs the alarm, or null. */
  nextAt(now: number, issued: number): number | null {
    const pending = this.pending(issued);
    if (pending > 0) {
      if (this.failures) return Math.max(now, this.retryAt);
      return pending >= FLUSH_COUNT ? now : now + this.deps.config.flushMs;
    }
    if (this.redriveFrom !== null && this.held > 0) return now + (this.redrivePaused ? PROBE_WAIT_MS : 1_000);
    if (this.held > 0) return now + IDLE_CHECK_MS; // watches for receipts Postgres never confirmed
    return null;
  }

  stats(
    shard: number,
    issued: number,
    now: number,
  ): Omit<ShardStats, "logSize" | "checkpointAgeMs" | "codeSpaceUsed" | "offline" | "holds"> {
    const oldestEntry = this.ring.oldestUnconfirmed();
    const oldest = oldestEntry
      ? Date.parse((JSON.parse(oldestEntry.record) as { receivedAt: string }).receivedAt)
      : undefined;
    return {
      shard,
      issued,
      enqueued: this.sentUpTo,
      persisted: issued - this.held,
      unpersisted: this.held,
      oldestUnpersistedAgeMs: oldest === undefined ? null : now - oldest,
      messagesSent: this.messages,
      commits: this.ring.stats(),
    };
  }
}
