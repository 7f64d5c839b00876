/**
 * The queue consumer: one INSERT per batch into Postgres, then tell each shard
 * what Postgres now holds so it can prune. A message is acked only after its
 * receipts are committed; on failure it is retried with backoff and, past
 * max_retries, dead-lettered (the shard re-sends anything never confirmed). If
 * Postgres refuses a value, the batch is split per message so one bad record
 * cannot hold back the rest.
 */
import type { OutboxEntry, OutboxMessage, OutboxReceipt } from "../../core/outbox.ts";
import { type Pg, withPg } from "../../db/client.ts";
import { insertReceipts } from "../../db/receipts.ts";
import type { Env } from "../env.ts";
import { shard } from "../shards.ts";

export function retryDelaySeconds(attempts: number): number {
  // 5 s, 10 s, 20 s … capped at 15 min: ten attempts span ~51 min (docs/scale.md §5).
  return Math.min(900, 2 ** Math.max(0, attempts - 1) * 5);
}

export async function consumeReceipts(
  batch: MessageBatch<OutboxMessage>,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  await withPg(env, ctx, async (pg) => {
    let stored: readonly Message<OutboxMessage>[] = [];
    try {
      await persist(env, pg, batch.messages);
      stored = batch.messages;
    } catch (e) {
      if (!rejectsData(e) || batch.messages.length === 1) {
        console.error(
          JSON.stringify({ msg: "persist failed; retrying", messages: batch.messages.length, error: String(e) }),
        );
        for (const m of batch.messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
        return;
      }
      // Postgres refused a value: one message at a time, so a bad record holds back only its own.
      stored = await persistEach(env, pg, batch.messages);
    }
    // Postgres has them: acking is now safe whatever the shards answer. A shard
    // that misses this report re-sends later, and the insert skips duplicates.
    await Promise.allSettled(
      [...groupByShard(stored)].map(([n, entries]) => shard(env, n).markPersisted(entries.map((e) => e.counter))),
    );
    for (const m of stored) m.ack();
  });
}

async function persist(env: Env, pg: Pg, messages: readonly Message<OutboxMessage>[]): Promise<void> {
  await insertReceipts(pg.pool, await resolveReferences(env, groupByShard(messages)));
}

async function persistEach(env: Env, pg: Pg, messages: readonly Message<OutboxMessage>[]) {
  const stored: Message<OutboxMessage>[] = [];
  for (const m of messages) {
    try {
      await persist(env, pg, [m]);
      stored.push(m);
    } catch (e) {
      console.error(JSON.stringify({ msg: "persist refused a message", shard: m.body.shard, error: String(e) }));
      m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
    }
  }
  return stored;
}

/** A data or constraint error (SQLSTATE class 22 or 23): this input, not the connection, is the problem. */
function rejectsData(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}

function groupByShard(messages: readonly Message<OutboxMessage>[]): Map<number, OutboxEntry[]> {
  const byShard = new Map<number, OutboxEntry[]>();
  for (const m of messages) {
    const list = byShard.get(m.body.shard) ?? [];
    list.push(...m.body.receipts);
    byShard.set(m.body.shard, list);
  }
  return byShard;
}

/**
 * Entries that travelled by reference are read from their shard. One the shard
 * no longer holds was confirmed already (it prunes only after Postgres has it).
 */
async function resolveReferences(env: Env, byShard: Map<number, OutboxEntry[]>): Promise<OutboxReceipt[]> {
  const out: OutboxReceipt[] = [];
  for (const [n, entries] of byShard) {
    const refs = entries.filter((e) => e.record === undefined).map((e) => e.counter);
    const fetched = new Map(refs.length ? (await shard(env, n).records(refs)).map((r) => [r.counter, r.record]) : []);
    for (const e of entries) {
      const record = e.record ?? fetched.get(e.counter);
      if (record !== undefined) out.push({ counter: e.counter, hash: e.hash, record });
    }
  }
  return out;
}
