/**
 * Issuing: authenticate the terminal, dedupe by Idempotency-Key, and hand new
 * sales to the group commit (group-commit.ts). A commit numbers its sales,
 * links each store's chain, appends their hashes to the log and writes the
 * whole batch, with its idempotency keys and the log's head, as one ring row.
 * Replies leave only once storage confirmed that row.
 *
 * Outcomes are domain words; workers/ingest maps them to HTTP.
 */

import { canonicalJson } from "../core/canonical.ts";
import { type CodeFormat, encodeCode, MAX_COUNTER, V1_MAX_SHARDS } from "../core/code.ts";
import { keyHash as hashKey } from "../core/idem-run.ts";
import { buildRecord, type ChainRecord, type Issued, issuedOf, type ReceiptInput } from "../core/receipt.ts";
import { type Claim, mirrorHash } from "../core/refunds.ts";
import { sha256Hex } from "../kit/crypto.ts";
import { GroupCommit, type HoldStats } from "../kit/group-commit.ts";
import { type Bucket, takeTokens } from "../kit/rate-limit.ts";
import { fromHex } from "../tlog/merkle.ts";
import type { LotteryCuts } from "./cuts.ts";
import type { Head, StoreHeads } from "./heads.ts";
import type { IdempotencyIndex, KnownKey } from "./idempotency.ts";
import type { ShardLog } from "./log.ts";
import {
  type BacklogReport,
  isLate,
  type OfflineEntry,
  type OfflineRegister,
  offlineSignatureOk,
  terminalKey,
} from "./offline.ts";
import type { ReserveAnswer, ShardDeps } from "./ports.ts";
import { type BatchRing, entryBytes, type RingEntry } from "./ring.ts";
import type { RefundSagas } from "./sagas.ts";
import type { ShardTables, Terminal } from "./tables.ts";

/** Where a refund's or void's original lives: its shard, its counter there, its code (ungrouped). */
export type OriginalRef = { shard: number; counter: number; code: string };

/**
 * One receipt to issue. An offline one (contract v1.2) comes with its
 * signature's parts, and its idempotencyKey is the Worker's own for its
 * sequence (`offline:<terminalSeq>`, a spelling no client key can have).
 */
export type IssueEntry = {
  idempotencyKey: string;
  bodyHash: string;
  receipt: ReceiptInput;
  refersTo?: OriginalRef;
  offline?: OfflineEntry;
};

/** Why the original's ledger refused a refund or a void (contract v1.2), with the line for refund_exceeds_original. */
export type RefundRefusal = {
  kind: "refund_refused";
  reason:
    | "original_not_found"
    | "original_not_refundable"
    | "refund_exceeds_original"
    | "void_window_closed"
    | "void_not_allowed";
  path?: string;
  message?: string;
};

export type IssueOutcome =
  | { kind: "issued" | "replayed"; issued: Issued }
  /** A retry of a receipt the shard no longer holds: Postgres has it, under this code. */
  | { kind: "replayed_persisted"; code: string }
  | { kind: "conflict" }
  | { kind: "rate_limited"; retryAfter: number; limit: number }
  | RefundRefusal
  /** The original's shard or record could not be reached: retry with the same key. */
  | { kind: "unavailable" }
  /** An offline receipt whose signature the terminal's registered key does not check (or no key). */
  | { kind: "offline_signature" };

/** Set when the whole request is refused. */
export type Refusal =
  | { kind: "unknown_terminal" | "revoked" | "tenant_disabled" }
  | { kind: "busy"; retryAfter: number };

export type IssueReply = { refused: Refusal | null; outcomes: IssueOutcome[] };

export type IssueRequest = { shard: number; tokenHash: string; entries: IssueEntry[]; backlog?: BacklogReport };

/** A reservation on the original's ledger that this receipt's commit turns into a confirmation owed. */
type HoldRef = { original: OriginalRef; attempt: number; claim: Claim; kind: "refund" | "void" };

/** One sale (or refund, or void) waiting for a commit. */
type Sale = { shard: number; terminal: Terminal; entry: IssueEntry; keyHash: string; hold?: HoldRef };

/**
 * A ring row stays under SQLite's 2 MB (string or blob): a commit takes sales
 * until their entries, as the row stores them (JSON in JSON, UTF-8), reach this.
 * One receipt (≤ 256 KiB of body) always fits.
 */
const MAX_BATCH_BYTES = 1_700_000;

export type IssuerParts = {
  tables: ShardTables;
  log: ShardLog;
  ring: BatchRing;
  idem: IdempotencyIndex;
  heads: StoreHeads;
  cuts: LotteryCuts;
  sagas: RefundSagas;
  offline: OfflineRegister;
  deps: Pick<ShardDeps, "storage" | "config" | "clock">;
  meta: Record<string, number>;
  disabledTenants: ReadonlySet<string>;
  /** Writes out idempotency keys and store heads now, to free ring slots. */
  mark: () => void;
};

export class Issuer {
  /** Per-store token buckets (in memory: a restart just refills them). */
  private readonly buckets = new Map<string, Bucket>();
  /** Keys whose sale is waiting for its commit: a retry that arrives meanwhile waits for the same answer. */
  private readonly inflight = new Map<string, Promise<{ bodyHash: string; issued: Issued }>>();
  /** The first counter issued as a v2 (20-character) code; null while the shard still issues v1. */
  private v2From: number | null;
  private readonly group: GroupCommit<Sale, Issued>;
  private readonly parts: IssuerParts;

  constructor(parts: IssuerParts) {
    this.parts = parts;
    this.v2From = parts.meta.code_v2_from ?? null;
    this.group = new GroupCommit({
      commit: (sales) => this.commit(sales),
      durable: () => parts.deps.storage.sync(),
      holdMs: parts.deps.config.commitHoldMs,
    });
  }

  /** The layout of the code for `counter` (issued or next), and whether issuing it switches the shard to v2. */
  formatOf(shard: number, counter: number): { format: CodeFormat; switches: boolean } {
    if (this.v2From !== null && counter >= this.v2From) return { format: 2, switches: false };
    if (counter <= this.parts.log.size) return { format: 1, switches: false };
    // The switch, recorded with the first v2 code: configured (the default), or v1 cannot carry
    // this code (its space ran out) — a shard moves on for good rather than refuse.
    const switches =
      this.parts.deps.config.codeFormat === 2 ||
      shard >= V1_MAX_SHARDS ||
      counter > this.parts.deps.config.v1MaxCounter;
    return { format: switches ? 2 : 1, switches };
  }

  /** Who a terminal token belongs to, or why it is refused. */
  authenticate(tokenHash: string): Terminal | { kind: "unknown_terminal" | "revoked" | "tenant_disabled" } {
    const terminal = this.parts.tables.terminalByToken(tokenHash);
    if (!terminal) return { kind: "unknown_terminal" };
    if (terminal.revoked_at !== null) return { kind: "revoked" };
    if (this.parts.disabledTenants.has(terminal.tenant_id)) return { kind: "tenant_disabled" };
    return terminal;
  }

  async issue(shard: number, req: IssueRequest): Promise<IssueReply> {
    const { log, ring, idem, heads, deps } = this.parts;
    const terminal = this.authenticate(req.tokenHash);
    if ("kind" in terminal) return { refused: terminal, outcomes: [] };
    const { storeRate, outboxLimit } = deps.config;
    const who = terminalKey({
      tenantId: terminal.tenant_id,
      storeId: terminal.store_id,
      terminalId: terminal.terminal_id,
    });
    if (!heads.get(terminal.tenant_id, terminal.store_id)) {
      throw new Error(`store ${terminal.tenant_id}/${terminal.store_id} has a terminal but is not on this shard`);
    }
    const now = deps.clock();
    if (req.backlog) this.parts.offline.report(who, req.backlog, now);
    // Offline receipts are checked against the terminal's key first; a forged one reserves nothing.
    const forged = new Set<number>();
    if (req.entries.some((e) => e.offline)) {
      const ok = await Promise.all(
        req.entries.map((e) => (e.offline ? offlineSignatureOk(terminal, e.receipt, e.offline) : true)),
      );
      ok.forEach((good, i) => {
        if (!good) forged.add(i);
      });
    }
    // Only refunds and voids wait for their original's ledger; a request of sales goes on without a turn.
    const holds = req.entries.some((e) => e.refersTo)
      ? await this.reserveAll(
          shard,
          terminal,
          who,
          req.entries.map((e, i) => (forged.has(i) ? { ...e, refersTo: undefined } : e)),
          now,
        )
      : [];
    const answers: ((committed: Promise<Issued>[]) => Promise<IssueOutcome>)[] = [];
    const sales: Sale[] = [];
    const inRequest = new Map<string, number>();
    /** Gives back reservations this request made and no commit will take (busy, rate limited). */
    const giveBack = (indexes: number[]) => {
      for (const i of indexes) {
        const h = holds[i];
        const e = req.entries[i];
        if (!h || !("ok" in h) || !e?.refersTo) continue;
        this.parts.sagas.release(e.refersTo.shard, e.refersTo.counter, hashKey(who, e.idempotencyKey), h.attempt);
      }
    };
    for (const [index, entry] of req.entries.entries()) {
      if (forged.has(index)) {
        answers.push(async () => ({ kind: "offline_signature" }));
        continue;
      }
      const keyHash = hashKey(who, entry.idempotencyKey);
      const { bodyHash } = entry;
      const same = inRequest.get(keyHash);
      if (same !== undefined) {
        answers.push((c) => (c[same] as Promise<Issued>).then((r) => replayOf(sales[same]?.entry, bodyHash, r)));
        continue;
      }
      const waiting = this.inflight.get(keyHash);
      if (waiting) {
        answers.push(() => waiting.then((w) => (w.bodyHash === bodyHash ? replayed(w.issued) : { kind: "conflict" })));
        continue;
      }
      const known = idem.find(keyHash, now);
      if (known) {
        const outcome = this.replay(shard, known, bodyHash);
        answers.push(async () => outcome);
        continue;
      }
      // Past the keys' 24 h, an offline sequence is still known: it replays (or conflicts) for ever.
      const registered = entry.offline && this.parts.offline.known(who, entry.offline.terminalSeq);
      if (registered) {
        const outcome = this.replay(shard, registered, bodyHash);
        answers.push(async () => outcome);
        continue;
      }
      // Shard-wide, so the whole request (nothing of it was written): Postgres is
      // far behind, or the code space or the ring is spent.
      const waitingSales = this.group.queued + sales.length;
      if (!ring.hasRoom() && ring.waitsForMark) this.parts.mark();
      if (ring.held + waitingSales >= outboxLimit || log.size + waitingSales >= MAX_COUNTER || !ring.hasRoom()) {
        giveBack([...holds.keys()]);
        return { refused: { kind: "busy", retryAfter: 5 }, outcomes: [] };
      }
      const reserved = holds[index];
      if (reserved && !("ok" in reserved)) {
        const outcome = refusalOf(reserved);
        answers.push(async () => outcome);
        continue;
      }
      // One store cannot starve the others on its shard (docs/scale.md §10).
      const storeKey = `${terminal.tenant_id}/${terminal.store_id}`;
      const taken = takeTokens(this.buckets.get(storeKey), now, { rate: storeRate, burst: storeRate * 2 });
      this.buckets.set(storeKey, taken.bucket);
      if (!taken.ok) {
        giveBack([index]);
        const outcome: IssueOutcome = { kind: "rate_limited", retryAfter: taken.retryAfterSeconds, limit: storeRate };
        answers.push(async () => outcome);
        continue;
      }
      const at = sales.length;
      inRequest.set(keyHash, at);
      const sale: Sale = { shard, terminal, entry, keyHash };
      if (reserved && entry.refersTo) {
        const kind = entry.receipt.kind === "void" ? "void" : "refund";
        sale.hold = { original: entry.refersTo, attempt: reserved.attempt, claim: reserved.claim, kind };
      }
      sales.push(sale);
      answers.push((c) => (c[at] as Promise<Issued>).then((issued) => ({ kind: "issued", issued })));
    }
    const committed = this.group.submit(sales);
    // The saga's last step: confirm on the original's ledger before answering (the alarm retries
    // what fails), or release the reservation if the commit failed.
    for (const [i, s] of sales.entries()) {
      const hold = s.hold;
      if (!hold) continue;
      const { sagas } = this.parts;
      committed[i] = (committed[i] as Promise<Issued>).then(
        async (issued) => {
          sagas.issued(s.keyHash);
          if (!(await sagas.confirm(s.keyHash))) sagas.owe(deps.clock());
          return issued;
        },
        (e: unknown) => {
          sagas.release(hold.original.shard, hold.original.counter, s.keyHash, hold.attempt);
          throw e;
        },
      );
    }
    sales.forEach((s, i) => {
      const done = (committed[i] as Promise<Issued>).then((issued) => ({ bodyHash: s.entry.bodyHash, issued }));
      this.inflight.set(s.keyHash, done);
      const forget = () => {
        if (this.inflight.get(s.keyHash) === done) this.inflight.delete(s.keyHash);
      };
      done.then(forget, forget);
    });
    return { refused: null, outcomes: await Promise.all(answers.map((a) => a(committed))) };
  }

  /**
   * The saga's first step for every refund and void in the request, at once:
   * a reservation on the original's ledger, keyed by the receipt's own key
   * (so a retry reserves the same hold). Retries the shard already answers
   * (known or in flight) reserve nothing.
   */
  private async reserveAll(
    shard: number,
    terminal: Terminal,
    who: string,
    entries: IssueEntry[],
    now: number,
  ): Promise<(ReserveAnswer | null)[]> {
    const seen = new Set<string>();
    return Promise.all(
      entries.map((e) => {
        const original = e.refersTo;
        if (!original) return null;
        const hold = hashKey(who, e.idempotencyKey);
        if (seen.has(hold) || this.inflight.has(hold) || this.parts.idem.find(hold, now)) return null;
        seen.add(hold);
        const r = e.receipt;
        return this.parts.sagas.reserve({
          ...original,
          hold,
          kind: r.kind === "void" ? "void" : "refund",
          bodyHash: e.bodyHash,
          tenantId: terminal.tenant_id,
          storeId: terminal.store_id,
          currency: r.currency,
          items: r.items.map((i) => ({ name: i.name, sku: i.sku, quantity: i.quantity, total: i.total })),
          mirror: r.kind === "void" ? mirrorHash(r) : "",
          from: shard,
        });
      }),
    );
  }

  /** A retry of a key this shard remembers: the original reply, from the ring or (by code) from Postgres. */
  private replay(shard: number, known: KnownKey, bodyHash: string): IssueOutcome {
    if (known.bodyHash !== bodyHash) return { kind: "conflict" };
    const held = this.parts.ring.receipt(known.counter);
    if (held) return replayed(issuedOf(JSON.parse(held.record) as ChainRecord, held.hash));
    const format = this.formatOf(shard, known.counter).format;
    return {
      kind: "replayed_persisted",
      code: encodeCode(this.parts.deps.config.codeKey, { shard, counter: known.counter }, format),
    };
  }

  /**
   * One group commit, atomically: numbers the sales, links each store's
   * chain, appends to the log and writes the ring row. Memory (log, heads,
   * keys, ring) moves only after the transaction committed.
   */
  private commit(sales: Sale[]): Issued[] {
    const { log, ring, idem, heads, tables, cuts, deps } = this.parts;
    const { out, after } = deps.storage.transactionSync(() => {
      const receivedAt = log.clock(Math.max(deps.clock(), cuts.floor));
      const crossed = cuts.crossing(receivedAt, log.size);
      const moved = new Map<string, { tenantId: string; storeId: string; head: Head }>();
      const entries: RingEntry[] = [];
      const out: Issued[] = [];
      let switchedAt: number | null = null;
      let bytes = 0;
      for (const s of sales) {
        const { tenant_id: tenantId, store_id: storeId, terminal_id: terminalId } = s.terminal;
        const storeKey = `${tenantId}\n${storeId}`;
        const head = moved.get(storeKey)?.head ?? heads.get(tenantId, storeId);
        if (!head) throw new Error(`store ${tenantId}/${storeId} is not on this shard`);
        const counter = log.size + entries.length + 1;
        const { format, switches } =
          switchedAt !== null ? { format: 2 as const, switches: false } : this.formatOf(s.shard, counter);
        const code = encodeCode(deps.config.codeKey, { shard: s.shard, counter }, format);
        const offline = s.entry.offline;
        const late = offline ? isLate(receivedAt, offline.signedAt, deps.config.offlineMaxMs) : false;
        const record = buildRecord({
          ...(s.entry.refersTo ? { refersTo: s.entry.refersTo.code } : {}),
          late,
          input: s.entry.receipt,
          code,
          tenantId,
          storeId,
          terminalId,
          seq: head.seq + 1,
          receivedAt,
          prevHash: head.hash,
        });
        const json = canonicalJson(record);
        const hash = sha256Hex(json);
        const entry: RingEntry = { counter, hash, record: json, keyHash: s.keyHash, bodyHash: s.entry.bodyHash };
        const size = entryBytes(entry) + 1;
        if (entries.length && bytes + size > MAX_BATCH_BYTES) break; // the rest go in the next commit
        bytes += size;
        if (switches) switchedAt = counter;
        moved.set(storeKey, { tenantId, storeId, head: { seq: record.seq, hash, counter } });
        entries.push(entry);
        out.push(issuedOf(record, hash));
        if (offline) {
          const seq = offline.terminalSeq;
          this.parts.offline.record(terminalKey({ tenantId, storeId, terminalId }), {
            seq,
            bodyHash: s.entry.bodyHash,
            counter,
            late,
            at: receivedAt,
          });
        }
        if (s.hold) {
          this.parts.sagas.record(s.hold.original.shard, {
            counter: s.hold.original.counter,
            hold: s.keyHash,
            kind: s.hold.kind,
            claim: s.hold.claim,
            from: s.shard,
            issued: { code, total: record.total, receivedAt: record.receivedAt },
          });
        }
      }
      if (switchedAt !== null) tables.setMeta("code_v2_from", switchedAt);
      const appended = log.append(
        entries.map((e) => fromHex(e.hash)),
        receivedAt,
      );
      const placed = ring.put(entries, appended.head);
      const after = () => {
        crossed();
        appended.commit();
        placed();
        for (const m of moved.values()) heads.move(m.tenantId, m.storeId, m.head);
        for (const e of entries)
          if (e.keyHash && e.bodyHash) idem.remember(e.keyHash, { bodyHash: e.bodyHash, counter: e.counter });
        if (switchedAt !== null) this.v2From = switchedAt;
      };
      return { out, after };
    });
    after();
    return out;
  }

  /** Sales waiting for a commit. */
  get queued(): number {
    return this.group.queued;
  }

  /** Holds for company since the object started, by outcome (kit/group-commit.ts). */
  get holds(): HoldStats {
    return { ...this.group.holds };
  }
}

const replayed = (issued: Issued): IssueOutcome => ({ kind: "replayed", issued });

function refusalOf(a: Exclude<ReserveAnswer, { ok: true }>): IssueOutcome {
  if (a.reason === "idempotency_conflict") return { kind: "conflict" };
  if (a.reason === "unavailable") return { kind: "unavailable" };
  return { kind: "refund_refused", ...a };
}

/** The same key twice in one request: the second is a replay of the first (or a conflict). */
function replayOf(first: IssueEntry | undefined, bodyHash: string, issued: Issued): IssueOutcome {
  return first?.bodyHash === bodyHash ? replayed(issued) : { kind: "conflict" };
}
