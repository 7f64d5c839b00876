/**
 * One shard's logic, composed from its parts over the storage seam (ports.ts):
 * issuing with group commit, the batch ring, idempotency runs, store heads,
 * the transparency log, the outbox pump and administration. The
 * Durable Object (store-shard.ts) is a thin shell around this, and tests can
 * open a second instance over the same storage with faulty ports.
 */
import { type CodeFormat, encodeCode, MAX_COUNTER, V1_MAX_COUNTER } from "../core/code.ts";
import type { ChainRecord } from "../core/receipt.ts";
import { describeError } from "../kit/describe-error.ts";
import { consistencyProof } from "../tlog/proofs.ts";
import { ShardAdmin } from "./admin.ts";
import { type Cut, LotteryCuts } from "./cuts.ts";
import { StoreHeads } from "./heads.ts";
import { IdempotencyIndex } from "./idempotency.ts";
import { type IssueReply, type IssueRequest, Issuer } from "./issuer.ts";
import { RefundLedgers, type RefundSummary } from "./ledgers.ts";
import { type LogView, ShardLog } from "./log.ts";
import { OfflineRegister } from "./offline.ts";
import type { ConfirmCall, HoldOutcome, LedgerPeer, ReserveAnswer, ReserveCall, ShardDeps } from "./ports.ts";
import { OutboxPump, type ShardStats } from "./pump.ts";
import { BatchRing } from "./ring.ts";
import { RefundSagas } from "./sagas.ts";
import { migrate } from "./schema.ts";
import { ShardTables, type StoreInfo } from "./tables.ts";
import { ShardWitnessing, type WitnessStats } from "./witnessing.ts";

/** A receipt the shard still holds (not confirmed in Postgres yet), with its store's names. */
export type HeldReceipt = { record: string; hash: string; storeName: string; storeTimezone: string };

/**
 * What verify needs from the shard in one call: the receipt if still held, the
 * log's head, and the layout the code for that counter has (each counter has one code).
 */
export type ShardView = {
  held: HeldReceipt | null;
  log: LogView;
  codeFormat: CodeFormat;
  /** A sale's refunds and void, from its ledger here (null: none ever). */
  refunds: RefundSummary | null;
};

/** What /ops and /metrics read of a shard: the pump's counts, the log's and the witnesses'. */
export type ShardStatus = ShardStats & { witnessing: WitnessStats };

/** With no signing key configured, look again this often (a deploy that adds one restarts the object anyway). */
const NO_KEY_RECHECK_MS = 10 * 60 * 1000;
/**
 * Idempotency keys and store heads are written out this often (a mark), or
 * sooner once this many keys wait in memory (≈ 30 MB) or the ring needs the
 * slots. Rarer marks write fewer store heads per receipt (docs/scale.md §12).
 */
const MARK_MS = 30 * 60 * 1000;
const MARK_KEYS = 200_000;

export class Shard {
  readonly tables: ShardTables;
  readonly ring: BatchRing;
  readonly idem: IdempotencyIndex;
  readonly heads: StoreHeads;
  readonly log: ShardLog;
  readonly pump: OutboxPump;
  readonly issuer: Issuer;
  readonly admin: ShardAdmin;
  readonly cuts: LotteryCuts;
  readonly ledgers: RefundLedgers;
  readonly sagas: RefundSagas;
  readonly offline: OfflineRegister;
  readonly witnessing: ShardWitnessing;
  private number: number;
  private alarmAt: number | null = null;
  private markedAt: number;
  /**
   * When signing may next be tried: pushed back after a failure (bad key,
   * storage error), and far out when no key is configured, so an unsigned
   * tree never makes the alarm spin.
   */
  private signNotBefore = 0;
  private signFailures = 0;
  /** The latest checkpoint lacks a configured key's signature (or has a dropped key's). */
  private resign = false;

  private readonly deps: ShardDeps;

  constructor(deps: ShardDeps) {
    this.deps = deps;
    this.markedAt = deps.clock();
    migrate(deps.storage.sql);
    this.tables = new ShardTables(deps.storage.sql);
    const meta = this.tables.meta();
    this.number = meta.shard ?? -1;
    this.ring = new BatchRing(this.tables, meta);
    this.log = new ShardLog(this.tables);
    this.idem = new IdempotencyIndex(this.tables);
    this.heads = new StoreHeads(this.tables);
    // What the batches after the last mark changed, and only memory held: heads and keys.
    for (const e of this.ring.entriesAfter(this.ring.markedBatch)) {
      const r = JSON.parse(e.record) as ChainRecord;
      this.heads.move(r.tenantId, r.storeId, { seq: r.seq, hash: e.hash, counter: e.counter });
      if (e.keyHash && e.bodyHash) this.idem.remember(e.keyHash, { bodyHash: e.bodyHash, counter: e.counter });
    }
    this.pump = new OutboxPump(this.tables, this.ring, deps, meta);
    this.admin = new ShardAdmin(this.tables);
    this.cuts = new LotteryCuts(this.tables);
    this.ledgers = new RefundLedgers(
      this.tables,
      deps,
      (counter) => {
        const e = this.ring.receipt(counter);
        return e ? (JSON.parse(e.record) as ChainRecord) : null;
      },
      () => this.log.size,
    );
    this.sagas = new RefundSagas(this.tables, deps.logger, (n) => this.peer(n), deps.clock());
    this.offline = new OfflineRegister(this.tables, deps.config.offlineMaxMs);
    this.witnessing = new ShardWitnessing({
      tables: this.tables,
      clock: deps.clock,
      logger: deps.logger,
      fetch: deps.witnessFetch,
      policy: deps.config.witnesses,
      proof: async (from, to) =>
        from === 0 || from === to ? [] : consistencyProof(from, to, this.log.reader(deps.tiles, this.number)),
      settled: () => this.schedule(),
    });
    this.issuer = new Issuer({
      tables: this.tables,
      log: this.log,
      ring: this.ring,
      idem: this.idem,
      heads: this.heads,
      cuts: this.cuts,
      sagas: this.sagas,
      offline: this.offline,
      deps,
      meta,
      disabledTenants: this.admin.disabled,
      mark: () => this.mark(this.deps.clock()),
    });
    // Counters are leaf indexes, so the log's size is the last counter issued.
    // A shard whose outbox ran ahead of its log would reissue codes: refuse loudly.
    if (this.pump.sentUpTo > this.log.size) {
      throw new Error(`shard ${this.number}: outbox is ahead of the log; it predates the log and needs a backfill`);
    }
  }

  /** The ledgers of shard `n`: this shard's own are called in place. */
  private peer(n: number): LedgerPeer {
    if (n !== this.number) return this.deps.peer(n);
    return {
      reserve: (call) => this.reserve(call),
      confirm: async (call) => this.confirm(call),
      release: async (call) => this.release(call),
      holdOutcome: async (hold) => this.holdOutcome(hold),
    };
  }

  /** A refund or void elsewhere (or here) reserves on the ledger of an original this shard issued. */
  async reserve(call: ReserveCall): Promise<ReserveAnswer> {
    if (this.number !== call.shard) return { reason: "original_not_found" };
    const answer = await this.ledgers.reserve(call);
    this.schedule();
    return answer;
  }

  confirm(call: ConfirmCall): void {
    this.ledgers.confirm(call);
    this.schedule();
  }

  release(call: { counter: number; hold: string; attempt?: number }): void {
    this.ledgers.release(call);
    this.schedule();
  }

  holdOutcome(hold: string): HoldOutcome {
    return this.sagas.outcome(hold);
  }

  /** Loads the alarm the platform already has, so scheduling never pushes it later. */
  async start(): Promise<void> {
    this.alarmAt = await this.deps.storage.getAlarm();
    // An overdue alarm is armed again: one set by an instance that is gone may never fire.
    if (this.alarmAt !== null && this.alarmAt <= this.deps.clock()) this.alarmAt = null;
    // The signing keys changed since the last checkpoint (a rotation): re-sign it now, even idle.
    const signers = await this.deps.config.signers().catch(() => []);
    this.resign = signers.length > 0 && !this.log.signedByAll(signers);
    // An idle shard whose last alarm was lost still signs and sends what it holds.
    const unmarked = this.ring.lastBatch > this.ring.markedBatch;
    // schedule() only ever moves the alarm earlier: an alarm left far ahead (by an older release) must
    // not hold back the checkpoint of a tree that is unsigned now, such as a history just adopted.
    const owed = this.sagas.nextAt() !== null || this.ledgers.nextAt() !== null;
    const unwitnessed = !this.witnessing.covers(this.log.checkpoint);
    if (this.log.unsigned || this.resign || this.pump.held > 0 || unmarked || owed || unwitnessed) this.schedule();
  }

  get shard(): number {
    return this.number;
  }

  /** Binds this object to its shard number on first use; a mismatch is a routing bug. */
  claim(shard: number): void {
    if (this.number === shard) return;
    if (this.number !== -1) throw new Error(`shard object ${this.number} was addressed as ${shard}`);
    this.number = shard;
    this.tables.setMeta("shard", shard);
  }

  async issue(req: IssueRequest): Promise<IssueReply> {
    this.claim(req.shard);
    const reply = await this.issuer.issue(req.shard, req);
    this.schedule();
    return reply;
  }

  /**
   * Writes out the idempotency keys and store heads of every batch so far, in
   * one transaction, so their ring slots can be reused once Postgres has them.
   */
  mark(now: number): void {
    const upTo = this.ring.lastBatch;
    if (upTo <= this.ring.markedBatch) return;
    const after = this.deps.storage.transactionSync(() => {
      const keys = this.idem.flush(upTo, now);
      const heads = this.heads.writeBack();
      this.tables.setMeta("marked_batch", upTo);
      return () => {
        keys();
        heads();
        this.ring.marked(upTo);
      };
    });
    after();
    this.markedAt = now;
  }

  /**
   * The log's size at a lottery draw's close (cuts.ts), registering a close
   * still ahead, and the first counter Postgres has not confirmed (null: none).
   */
  lotteryCut(shard: number, closesAt: number): Cut & { heldFrom: number | null } {
    this.claim(shard);
    const now = this.deps.clock();
    const cut = this.cuts.cutAt(closesAt, now, { size: this.log.size, lastReceivedAt: this.log.lastReceivedAt });
    return { ...cut, heldFrom: this.ring.oldestUnconfirmed()?.counter ?? null };
  }

  upsertStore(shard: number, store: StoreInfo): void {
    this.claim(shard);
    this.admin.upsertStore(store);
  }

  registerTerminal(
    shard: number,
    store: StoreInfo,
    t: { terminalId: string; tokenHash: string; publicKey?: string | null },
  ): void {
    this.claim(shard);
    this.admin.registerTerminal(store, { ...t, publicKey: t.publicKey ?? null });
  }

  view(counter: number): ShardView {
    const e = this.ring.receipt(counter, { unconfirmedOnly: true });
    let held: HeldReceipt | null = null;
    if (e) {
      const r = JSON.parse(e.record) as ChainRecord;
      const names = this.tables.storeNames(r.tenantId, r.storeId);
      held = {
        record: e.record,
        hash: e.hash,
        storeName: names?.name ?? r.storeId,
        storeTimezone: names?.timezone ?? "UTC",
      };
    }
    return {
      held,
      log: this.logView(),
      codeFormat: this.issuer.formatOf(this.number, counter).format,
      refunds: this.ledgers.summary(counter),
    };
  }

  /** The log's head with the latest witnessed checkpoint: what the log API serves and proves against. */
  logView(): LogView {
    return { ...this.log.view(), witnessed: this.witnessing.witnessed };
  }

  stats(): ShardStatus {
    const now = this.deps.clock();
    const size = this.log.size;
    const format = this.issuer.formatOf(this.number, size + 1).format;
    return {
      ...this.pump.stats(this.number, size, now),
      holds: this.issuer.holds,
      logSize: size,
      checkpointAgeMs: this.log.signedAt === null ? null : now - this.log.signedAt,
      codeSpaceUsed: size / (format === 1 ? V1_MAX_COUNTER : MAX_COUNTER),
      offline: this.offline.stats(now),
      witnessing: this.witnessing.stats(this.log.checkpoint),
    };
  }

  /** The code of the offline receipt a terminal registered under `seq` (`terminal` is tenant/store/terminal), or null. */
  offlineCode(terminal: string, seq: number): string | null {
    const counter = this.offline.known(terminal, seq)?.counter;
    if (counter === undefined) return null;
    const { format } = this.issuer.formatOf(this.number, counter);
    return encodeCode(this.deps.config.codeKey, { shard: this.number, counter }, format);
  }

  markPersisted(counters: number[]): number {
    const n = this.pump.markPersisted(counters);
    this.ring.storeWatermark(this.deps.clock());
    this.schedule();
    return n;
  }

  /** Sends the outbox, moves full tiles to R2, signs a checkpoint when due, sweeps old keys. */
  async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = this.deps.clock();
    if (this.number >= 0) {
      // The log first: a long outbox catch-up must not push a checkpoint past CHECKPOINT_MS.
      await this.logWork(now);
      await this.pump.run(this.number, this.log.size, now);
    }
    await this.sagas.retry(now);
    await this.ledgers.sweep((n) => this.peer(n));
    if (now - this.markedAt >= MARK_MS || this.idem.pending >= MARK_KEYS) this.mark(now);
    this.ring.storeWatermark(now);
    this.pump.storeWatermark(now);
    this.idem.sweep(now);
    this.schedule();
  }

  private async logWork(now: number): Promise<void> {
    const { config, storage, tiles } = this.deps;
    try {
      await this.log.upload(tiles, this.number);
    } catch (e) {
      this.deps.logger.error({ msg: "log tile upload failed", shard: this.number, error: describeError(e) });
    }
    const due = this.checkpointAt(now);
    if (due === null || due > now) {
      this.witness(now);
      return;
    }
    try {
      const signers = await config.signers();
      if (!signers.length) {
        this.signNotBefore = now + NO_KEY_RECHECK_MS;
        return;
      }
      await this.log.sign(signers, `${config.logOrigin}/${this.number}`, () => storage.sync(), now);
      this.resign = false;
      this.signFailures = 0;
      this.signNotBefore = 0;
    } catch (e) {
      this.signFailures++;
      this.signNotBefore = now + Math.min(60_000, 1_000 * 2 ** (this.signFailures - 1));
      this.deps.logger.error({ msg: "checkpoint signing failed", shard: this.number, error: describeError(e) });
    }
    this.witness(now);
  }

  /** Submits the latest signed checkpoint to the witnesses, unless it is witnessed or not due again yet. */
  private witness(now: number): void {
    const signed = this.log.checkpoint;
    const at = this.witnessing.nextAt(signed);
    if (at !== null && at <= now) this.witnessing.kick(signed, this.number);
  }

  /** When the next checkpoint is due (null: nothing to sign). */
  private checkpointAt(now: number): number | null {
    if (this.resign) return Math.max(now, this.signNotBefore);
    if (!this.log.unsigned) return null;
    return Math.max(now, (this.log.signedAt ?? 0) + this.deps.config.checkpointMs, this.signNotBefore);
  }

  /** Sets the alarm to the earliest time any part needs it (never later than one already set). */
  schedule(): void {
    const now = this.deps.clock();
    const times = [
      this.pump.nextAt(now, this.log.size),
      this.idem.nextAt(now),
      this.ring.watermarkAt(),
      this.pump.watermarkAt(),
      this.sagas.nextAt(),
      this.ledgers.nextAt(),
    ];
    if (this.ring.lastBatch > this.ring.markedBatch) times.push(this.markedAt + MARK_MS);
    const checkpoint = this.checkpointAt(now);
    if (checkpoint !== null) times.push(checkpoint);
    if (this.log.tilesWaiting) times.push(now + 1_000);
    times.push(this.witnessing.nextAt(this.log.checkpoint));
    const due = times.filter((t): t is number => t !== null);
    if (!due.length) return;
    const at = Math.min(...due);
    if (this.alarmAt === null || at < this.alarmAt) {
      this.alarmAt = at;
      void this.deps.storage.setAlarm(at);
    }
  }
}
