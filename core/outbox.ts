/**
 * How the shard packs its outbox into queue messages. Queues allow 5,000
 * messages/s per queue and 128 KB per message, so one message carries many
 * receipts; sendBatch takes ≤ 100 messages and ≤ 256 KB.
 */
export type OutboxReceipt = {
  /** The shard's counter: the key the shard prunes by once Postgres has the row. */
  counter: number;
  hash: string;
  /** The canonical record as JSON, exactly as hashed. */
  record: string;
};

export type OutboxMessage = { v: 1; shard: number; receipts: OutboxReceipt[] };

export const MAX_MESSAGE_BYTES = 100_000;
export const MAX_SEND_BATCH_BYTES = 240_000;
export const MAX_SEND_BATCH_MESSAGES = 100;

const ENVELOPE_BYTES = 64;
const PER_RECEIPT_OVERHEAD = 48;

/** Approximate JSON size of one receipt inside a message (ASCII-heavy, so close). */
export function receiptBytes(r: OutboxReceipt): number {
  return r.record.length * 1.1 + r.hash.length + PER_RECEIPT_OVERHEAD;
}

/** Packs receipts (in order) into messages of at most `maxBytes`. */
export function packMessages(shard: number, rows: OutboxReceipt[], maxBytes = MAX_MESSAGE_BYTES): OutboxMessage[] {
  const out: OutboxMessage[] = [];
  let current: OutboxReceipt[] = [];
  let size = ENVELOPE_BYTES;
  for (const row of rows) {
    const bytes = receiptBytes(row);
    if (current.length && size + bytes > maxBytes) {
      out.push({ v: 1, shard, receipts: current });
      current = [];
      size = ENVELOPE_BYTES;
    }
    current.push(row);
    size += bytes;
  }
  if (current.length) out.push({ v: 1, shard, receipts: current });
  return out;
}

/** Groups messages into sendBatch calls within the count and byte limits. */
export function groupForSend(messages: OutboxMessage[]): OutboxMessage[][] {
  const groups: OutboxMessage[][] = [];
  let group: OutboxMessage[] = [];
  let size = 0;
  for (const m of messages) {
    const bytes = m.receipts.reduce((s, r) => s + receiptBytes(r), ENVELOPE_BYTES);
    if (group.length && (group.length >= MAX_SEND_BATCH_MESSAGES || size + bytes > MAX_SEND_BATCH_BYTES)) {
      groups.push(group);
      group = [];
      size = 0;
    }
    group.push(m);
    size += bytes;
  }
  if (group.length) groups.push(group);
  return groups;
}
