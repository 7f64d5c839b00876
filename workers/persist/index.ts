/**
 * The queue consumer: one INSERT per batch into Postgres, then tell each shard
 * what Postgres now holds so it can prune. A message is acked only after its
 * receipts are committed; on failure it is retried with backoff and, past
 * max_retries, dead-lettered (the shard re-sends anything never confirmed).
 */
import type { OutboxMessage, OutboxReceipt } from "../../core/outbox.ts";
import { withPg } from "../../db/client.ts";
import { insertReceipts } from "../../db/receipts.ts";
import type { Env } from "../env.ts";
import { shard } from "../shards.ts";

export function retryDelaySeconds(attempts: number): number {
  return Math.min(300, 2 ** Math.max(0, attempts - 1) * 5);
}

export async function consumeReceipts(
  batch: MessageBatch<OutboxMessage>,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  const receipts: OutboxReceipt[] = [];
  const byShard = new Map<number, number[]>();
  for (const m of batch.messages) {
    for (const r of m.body.receipts) {
      receipts.push(r);
      const list = byShard.get(m.body.shard) ?? [];
      list.push(r.counter);
      byShard.set(m.body.shard, list);
    }
  }
  try {
    await withPg(env, ctx, (pg) => insertReceipts(pg.pool, receipts));
  } catch (e) {
    console.error(JSON.stringify({ msg: "persist failed; retrying", receipts: receipts.length, error: String(e) }));
    for (const m of batch.messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
    return;
  }
  // Postgres has them: acking is now safe whatever the shards answer. A shard
  // that misses this report re-sends later, and the insert skips duplicates.
  await Promise.allSettled([...byShard].map(([n, counters]) => shard(env, n).markPersisted(counters)));
  for (const m of batch.messages) m.ack();
}
