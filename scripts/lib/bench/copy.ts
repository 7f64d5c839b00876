/**
 * `COPY … FROM STDIN` with plain `pg` (no pg-copy-streams): a submittable
 * query that answers the server's CopyInResponse with the given chunks.
 */
import type pg from "pg";

type Connection = {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
};

class CopyIn {
  callback: ((err: Error | null, rows: number) => void) | null = null;
  private rows = 0;
  private error: Error | null = null;
  private readonly text: string;
  private readonly chunks: Buffer[];
  constructor(text: string, chunks: Buffer[]) {
    this.text = text;
    this.chunks = chunks;
  }
  submit(connection: Connection): void {
    connection.query(this.text);
  }
  handleCopyInResponse(connection: Connection): void {
    for (const c of this.chunks) connection.sendCopyFromChunk(c);
    connection.endCopyFrom();
  }
  handleCommandComplete(msg: { text?: string }): void {
    this.rows = Number(/(\d+)\s*$/.exec(msg.text ?? "")?.[1] ?? 0);
  }
  handleError(err: Error): void {
    // The client drops its active query on an error, so this is our last call.
    this.error = err;
    this.callback?.(err, 0);
    this.callback = null;
  }
  handleReadyForQuery(): void {
    this.callback?.(this.error, this.rows);
    this.callback = null;
  }
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/** Runs `COPY <table>(<columns>) FROM STDIN` with text-format lines; resolves to the row count. */
export function copyFrom(client: pg.Client, statement: string, lines: string[]): Promise<number> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < lines.length; i += 500) chunks.push(Buffer.from(`${lines.slice(i, i + 500).join("\n")}\n`));
  const q = new CopyIn(statement, chunks);
  return new Promise((ok, fail) => {
    q.callback = (err, rows) => (err ? fail(err) : ok(rows));
    (client as unknown as { query(q: unknown): void }).query(q);
  });
}

/** A value in COPY's text format (\N for null; backslash, tab, newline and CR escaped). */
export function copyText(v: unknown): string {
  if (v === null || v === undefined) return "\\N";
  const s = typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
  return s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
}

/** The receipts columns a COPY of outbox receipts fills: what the consumer's INSERT fills. */
export const COPY_COLUMNS = [
  "code",
  "received_at",
  "tenant_id",
  "store_id",
  "terminal_id",
  "seq",
  "issued_at",
  "currency",
  "total",
  "cashier",
  "items",
  "payments",
  "hash",
  "prev_hash",
  "kind",
  "refers_to",
  "reason",
  "offline",
  "late",
] as const;

/** One outbox receipt as a line of COPY's text format, in COPY_COLUMNS order. */
export function copyLine(r: { hash: string; record: string }): string {
  const x = JSON.parse(r.record) as Record<string, unknown>;
  return [
    x.code,
    x.receivedAt,
    x.tenantId,
    x.storeId,
    x.terminalId,
    x.seq,
    x.issuedAt,
    x.currency,
    x.total,
    x.cashier,
    x.items,
    x.payments,
    r.hash,
    x.prevHash,
    x.kind,
    x.refersTo,
    x.reason,
    x.offline,
    x.late,
  ]
    .map(copyText)
    .join("\t");
}
