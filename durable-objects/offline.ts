/**
 * Offline receipts on the shard (contract v1.2, docs/offline.md): the
 * terminal's signature, every registered one by its terminal's sequence (so a
 * replay answers the same however late it comes), and each terminal's account
 * for the operator: gaps, late receipts, and the backlog it says it holds.
 */
import { offlineReceiptText, verifyText } from "../core/offline.ts";
import type { ReceiptInput } from "../core/receipt.ts";
import { fromBase64 } from "../kit/base64.ts";
import type { OfflineTerminalRow, ShardTables, Terminal } from "./tables.ts";

/** `offline` of a batch entry, with the hash its signature covers (the body without `offline` or the key). */
export type OfflineEntry = { terminalSeq: number; signedAt: string; signature: string; signedBodyHash: string };

/** What a terminal says it still holds unsent (header Tillproof-Offline-Backlog). */
export type BacklogReport = { count: number; since: number | null };

/** A late receipt keeps its terminal flagged as over its budget this long. */
const LATE_FLAG_MS = 24 * 60 * 60 * 1000;
/** The console lists at most this many terminals per shard, worst first. */
const LISTED = 50;

export type OfflineTerminalReport = {
  terminal: string;
  registered: number;
  lastSeq: number;
  gaps: number;
  late: number;
  backlog: number;
  backlogSince: string | null;
  overBudget: boolean;
};

export type OfflineStats = {
  late: number;
  gaps: number;
  backlog: number;
  overBudget: number;
  terminals: OfflineTerminalReport[];
};

/** Whether the terminal's registered key signed this receipt (false too when it registered none). */
export async function offlineSignatureOk(t: Terminal, r: ReceiptInput, o: OfflineEntry): Promise<boolean> {
  const key = t.public_key === null ? null : fromBase64(t.public_key);
  const sig = fromBase64(o.signature);
  if (!key || !sig) return false;
  const text = offlineReceiptText({
    tenantId: t.tenant_id,
    storeId: t.store_id,
    terminalId: t.terminal_id,
    terminalSeq: o.terminalSeq,
    signedAt: o.signedAt,
    currency: r.currency,
    total: r.total,
    bodyHash: o.signedBodyHash,
  });
  return verifyText(key, sig, text);
}

/** How the shard names a terminal in its offline tables (and its idempotency keys): tenant/store/terminal. */
export const terminalKey = (t: { tenantId: string; storeId: string; terminalId: string }): string =>
  `${t.tenantId}/${t.storeId}/${t.terminalId}`;

/** Late: it arrived more than `maxMs` after the terminal signed it. */
export const isLate = (receivedAt: number, signedAt: string, maxMs: number): boolean =>
  receivedAt - Date.parse(signedAt) > maxMs;

const blank = (terminal: string): OfflineTerminalRow => ({
  terminal,
  registered: 0,
  max_seq: 0,
  late: 0,
  last_late_at: null,
  backlog: 0,
  backlog_since: null,
  reported_at: null,
});

export class OfflineRegister {
  private readonly tables: ShardTables;
  private readonly maxMs: number;

  constructor(tables: ShardTables, maxMs: number) {
    this.tables = tables;
    this.maxMs = maxMs;
  }

  /** The receipt registered under this sequence, if any: `bodyHash` is its entry's (signature included). */
  known(terminal: string, seq: number): { bodyHash: string; counter: number } | null {
    const row = this.tables.offlineSeq(terminal, seq);
    return row ? { bodyHash: row.body_hash, counter: row.counter } : null;
  }

  /** Inside the commit's transaction: the sequence taken, and the terminal's account moved on. */
  record(terminal: string, e: { seq: number; bodyHash: string; counter: number; late: boolean; at: number }): void {
    this.tables.putOfflineSeq(terminal, e.seq, e.bodyHash, e.counter);
    const row = this.tables.offlineTerminal(terminal) ?? blank(terminal);
    this.tables.putOfflineTerminal({
      ...row,
      registered: row.registered + 1,
      max_seq: Math.max(row.max_seq, e.seq),
      late: row.late + (e.late ? 1 : 0),
      last_late_at: e.late ? e.at : row.last_late_at,
    });
  }

  /** What the terminal says it still holds; written only when it changed. */
  report(terminal: string, b: BacklogReport, at: number): void {
    const row = this.tables.offlineTerminal(terminal);
    if (!row && b.count === 0) return;
    const r = row ?? blank(terminal);
    if (r.backlog === b.count && r.backlog_since === b.since) return;
    this.tables.putOfflineTerminal({
      ...r,
      backlog: b.count,
      backlog_since: b.count ? b.since : null,
      reported_at: at,
    });
  }

  /**
   * For /ops and /metrics. A terminal is over its budget while it reports a
   * backlog older than OFFLINE_MAX_HOURS, and for a day after a late receipt.
   */
  stats(now: number): OfflineStats {
    const all = this.tables.offlineTerminals().map((r): OfflineTerminalReport => {
      const overBudget =
        (r.backlog > 0 && r.backlog_since !== null && now - r.backlog_since > this.maxMs) ||
        (r.last_late_at !== null && now - r.last_late_at < LATE_FLAG_MS);
      return {
        terminal: r.terminal,
        registered: r.registered,
        lastSeq: r.max_seq,
        gaps: r.max_seq - r.registered,
        late: r.late,
        backlog: r.backlog,
        backlogSince: r.backlog_since === null ? null : new Date(r.backlog_since).toISOString(),
        overBudget,
      };
    });
    const sum = (f: (t: OfflineTerminalReport) => number) => all.reduce((n, t) => n + f(t), 0);
    const worth = (t: OfflineTerminalReport) => (t.overBudget ? 1e12 : 0) + t.gaps * 1e6 + t.backlog;
    return {
      late: sum((t) => t.late),
      gaps: sum((t) => t.gaps),
      backlog: sum((t) => t.backlog),
      overBudget: sum((t) => (t.overBudget ? 1 : 0)),
      terminals: all
        .filter((t) => worth(t) > 0 || t.late > 0)
        .sort((a, b) => worth(b) - worth(a))
        .slice(0, LISTED),
    };
  }
}
