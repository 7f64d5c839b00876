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

/**
 * A receipt as it travels. A record too large for a message (the contract allows
 * 500 items in 256 KiB) travels as a reference, and the consumer reads it from
 * the shard, which holds it until Postgres confirms it.
 */
export type OutboxEntry = OutboxReceipt | { counter: number; hash: string; record?: undefined };

export type OutboxMessage = { v: 1; shard: number; receipts: OutboxEntry[] };

export const MAX_MESSAGE_BYTES = 100_000;
export const MAX_SEND_BATCH_BYTES = 240_000;
export const MAX_SEND_BATCH_MESSAGES = 100;

/** `{"v":1,"shard":1023,"receipts":[]}` plus slack for the queue's own metadata. */
const ENVELOPE_BYTES = 160;
const utf8 = new TextEncoder();

/**
 * The exact UTF-8 size of one entry as the message carries it (the record is
 * JSON inside JSON, so its quotes are escaped, and non-ASCII text takes 2–4 bytes).
 */
export function receiptBytes(r: OutboxEntry): number {
  return utf8.encode(JSON.stringify(r)).length + 1; // + the comma between entries
}

/** A message and its size, measured once while packing. */
export type Packed = { body: OutboxMessage; bytes: number };

/** Packs receipts (in order) into messages of at most `maxBytes`. */
export function packMessages(shard: number, rows: OutboxReceipt[], maxBytes = MAX_MESSAGE_BYTES): Packed[] {
  const out: Packed[] = [];
  let current: OutboxEntry[] = [];
  let size = ENVELOPE_BYTES;
  for (const full of rows) {
    const fullBytes = receiptBytes(full);
    const row: OutboxEntry = fullBytes + ENVELOPE_BYTES > maxBytes ? { counter: full.counter, hash: full.hash } : full;
    const bytes = row === full ? fullBytes : receiptBytes(row);
    if (current.length && size + bytes > maxBytes) {
      out.push({ body: { v: 1, shard, receipts: current }, bytes: size });
      current = [];
      size = ENVELOPE_BYTES;
    }
    current.push(row);
    size += bytes;
  }
  if (current.length) out.push({ body: { v: 1, shard, receipts: current }, bytes: size });
  return out;
}

/** Groups messages into sendBatch calls within the count and byte limits. */
export function groupForSend(messages: Packed[]): OutboxMessage[][] {
  const groups: OutboxMessage[][] = [];
  let group: OutboxMessage[] = [];
  let size = 0;
  for (const { body: m, bytes } of messages) {
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
