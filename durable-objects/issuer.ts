/**
 * Issuing: authenticate the terminal, dedupe by Idempotency-Key, and for each
 * new sale one synchronous transaction that takes the next counter, links the
 * store's chain, appends the hash to the log and records the idempotency
 * entry. The reply leaves only after the output gate (never allowUnconfirmed).
 *
 * Outcomes are domain words; workers/ingest maps them to HTTP.
 */
import { canonicalJson } from "../core/canonical.ts";
import { type CodeFormat, encodeCode, groupCode, MAX_COUNTER, V1_MAX_SHARDS } from "../core/code.ts";
import { sha256Hex } from "../core/crypto.ts";
import { fromHex } from "../core/merkle.ts";
import { type Bucket, takeTokens } from "../core/rate-limit.ts";
import { buildRecord, type ReceiptInput } from "../core/receipt.ts";
import type { IssuedReceipt } from "../core/responses.ts";
import type { ShardLog } from "./log.ts";
import type { ShardDeps } from "./ports.ts";
import type { OutboxPump } from "./pump.ts";
import type { ShardTables, Terminal } from "./tables.ts";

export type IssueEntry = { idempotencyKey: string; bodyHash: string; receipt: ReceiptInput };

export type IssueOutcome =
  | { kind: "issued" | "replayed"; receipt: IssuedReceipt }
  | { kind: "conflict" }
  | { kind: "rate_limited"; retryAfter: number; limit: number };

/** Set when the whole request is refused. */
export type Refusal =
  | { kind: "unknown_terminal" | "revoked" | "tenant_disabled" }
  | { kind: "busy"; retryAfter: number };

export type IssueReply = { refused: Refusal | null; outcomes: IssueOutcome[] };

export type IssueRequest = { shard: number; tokenHash: string; baseUrl: string; entries: IssueEntry[] };

const IDEMPOTENCY_TTL_MS = 25 * 60 * 60 * 1000; // ≥ 24 h, with an hour of slack
const IDEMPOTENCY_SWEEP_MS = 60 * 60 * 1000; // expired keys are swept hourly (no index to keep)
const SWEEP_CHUNK = 5_000; // keys looked at per alarm while sweeping

export class Issuer {
  /** Per-store token buckets (in memory: a restart just refills them). */
  private readonly buckets = new Map<string, Bucket>();
  /** Where an idempotency sweep part way through continues. */
  private sweepFrom: { terminal: string; key: string } | null = null;
  private sweptAt: number;
  /** The first counter issued as a v2 (20-character) code; null while the shard still issues v1. */
  private v2From: number | null;

  private readonly tables: ShardTables;
  private readonly log: ShardLog;
  private readonly pump: OutboxPump;
  private readonly deps: Pick<ShardDeps, "storage" | "config">;
  private readonly disabledTenants: ReadonlySet<string>;

  constructor(
    tables: ShardTables,
    log: ShardLog,
    pump: OutboxPump,
    deps: Pick<ShardDeps, "storage" | "config">,
    meta: Record<string, number>,
    disabledTenants: ReadonlySet<string>,
  ) {
    this.disabledTenants = disabledTenants;
    this.tables = tables;
    this.log = log;
    this.pump = pump;
    this.deps = deps;
    this.sweptAt = meta.swept_at ?? 0;
    this.v2From = meta.code_v2_from ?? null;
  }

  /** The layout of the code for `counter` (issued or next), and whether issuing it switches the shard to v2. */
  formatOf(shard: number, counter: number): { format: CodeFormat; switches: boolean } {
    if (this.v2From !== null && counter >= this.v2From) return { format: 2, switches: false };
    if (counter <= this.log.size) return { format: 1, switches: false };
    // The switch, recorded with the first v2 code: configured (the default), or v1 cannot carry
    // this code (its space ran out) — a shard moves on for good rather than refuse.
    const switches =
      this.deps.config.codeFormat === 2 || shard >= V1_MAX_SHARDS || counter > this.deps.config.v1MaxCounter;
    return { format: switches ? 2 : 1, switches };
  }

  issue(shard: number, req: IssueRequest): IssueReply {
    const terminal = this.tables.terminalByToken(req.tokenHash);
    if (!terminal) return { refused: { kind: "unknown_terminal" }, outcomes: [] };
    if (terminal.revoked_at !== null) return { refused: { kind: "revoked" }, outcomes: [] };
    if (this.disabledTenants.has(terminal.tenant_id)) return { refused: { kind: "tenant_disabled" }, outcomes: [] };
    const { storeRate, outboxLimit } = this.deps.config;
    const who = `${terminal.tenant_id}/${terminal.store_id}/${terminal.terminal_id}`;
    const outcomes: IssueOutcome[] = [];
    for (const entry of req.entries) {
      const known = this.tables.idempotency(who, entry.idempotencyKey);
      if (known) {
        outcomes.push(
          known.body_hash === entry.bodyHash
            ? { kind: "replayed", receipt: JSON.parse(known.response) as IssuedReceipt }
            : { kind: "conflict" },
        );
        continue;
      }
      // Shard-wide, so the whole request (replays above still answer): Postgres is
      // far behind, or the code space is spent. Entries issued before this point
      // are durable and replay on the retry.
      if (this.pump.held >= outboxLimit || this.log.size >= MAX_COUNTER) {
        return { refused: { kind: "busy", retryAfter: 5 }, outcomes: [] };
      }
      // One store cannot starve the others on its shard (docs/scale.md §10).
      const storeKey = `${terminal.tenant_id}/${terminal.store_id}`;
      const taken = takeTokens(this.buckets.get(storeKey), Date.now(), { rate: storeRate, burst: storeRate * 2 });
      this.buckets.set(storeKey, taken.bucket);
      if (!taken.ok) {
        outcomes.push({ kind: "rate_limited", retryAfter: taken.retryAfterSeconds, limit: storeRate });
        continue;
      }
      outcomes.push({ kind: "issued", receipt: this.append(shard, terminal, entry, who, req.baseUrl) });
    }
    return { refused: null, outcomes };
  }

  /**
   * One receipt, atomically: the receipt row (also its outbox entry), the
   * store's chain head, the idempotency entry and the log's head row. Memory
   * (log, held count) moves only after the transaction committed.
   */
  private append(shard: number, terminal: Terminal, entry: IssueEntry, who: string, baseUrl: string): IssuedReceipt {
    const { tenant_id: tenantId, store_id: storeId, terminal_id: terminalId } = terminal;
    const { issued, commit } = this.deps.storage.transactionSync(() => {
      const head = this.tables.storeHead(tenantId, storeId);
      if (!head) throw new Error(`store ${tenantId}/${storeId} has a terminal but is not on this shard`);
      const counter = this.log.size + 1;
      const { format, switches } = this.formatOf(shard, counter);
      if (switches) this.tables.setMeta("code_v2_from", counter);
      const code = encodeCode(this.deps.config.codeKey, { shard, counter }, format);
      const receivedAt = this.log.clock(Date.now());
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
      this.tables.insertReceipt({
        counter,
        prevCounter: head.head_counter,
        code,
        tenantId,
        storeId,
        seq: record.seq,
        hash,
        record: json,
        receivedAt,
      });
      this.tables.setStoreHead(tenantId, storeId, { seq: record.seq, hash, counter });
      this.tables.putIdempotency(who, entry.idempotencyKey, entry.bodyHash, JSON.stringify(issued), receivedAt);
      const commitLog = this.log.append([fromHex(hash)], receivedAt);
      const commit = () => {
        commitLog();
        if (switches) this.v2From = counter;
      };
      return { issued, commit };
    });
    commit();
    this.pump.held++;
    return issued;
  }

  /**
   * Deletes expired idempotency keys one page of the primary key per alarm, so
   * a sweep reads the table once and a large shard never stalls for long (an
   * index on age would cost a row written per receipt).
   */
  sweep(now: number): void {
    if (!this.sweepFrom && now - this.sweptAt < IDEMPOTENCY_SWEEP_MS) return;
    this.sweepFrom = this.tables.sweepIdempotency(
      this.sweepFrom ?? { terminal: "", key: "" },
      SWEEP_CHUNK,
      now - IDEMPOTENCY_TTL_MS,
    );
    if (!this.sweepFrom) {
      this.sweptAt = now;
      this.tables.setMeta("swept_at", now);
    }
  }

  nextAt(now: number): number {
    return this.sweepFrom ? now + 1_000 : Math.max(now, this.sweptAt + IDEMPOTENCY_SWEEP_MS);
  }
}
