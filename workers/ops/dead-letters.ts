/**
 * Dead letters: messages the receipts queue gave up on (Postgres refused or was
 * down past every retry). The dead-letter queue's consumer keeps each as an R2
 * object (R2, not Postgres: Postgres may be why they died), the operator lists
 * them and replays them into the receipts queue. Replaying is idempotent: the
 * insert skips receipts Postgres already has, and a replayed letter moves from
 * `pending/` to `replayed/`. (The shards also re-send anything Postgres never
 * confirmed, an hour after they sent it.)
 */

import type { OutboxMessage } from "../../core/outbox.ts";
import { describeError } from "../../kit/describe-error.ts";
import type { Env } from "../env.ts";
import { router } from "../openapi.ts";
import { logger } from "../request-context.ts";
import { deadLettersRoute, replayRoute } from "./routes.ts";

export const DEAD_LETTER_QUEUE = "tillproof-receipts-dlq";
const PENDING = "pending/";
const REPLAYED = "replayed/";
const REPLAY_PER_CALL = 200;

type DeadLetter = { id: string; queue: string; attempts: number; sentAt: string; deadAt: string; body: OutboxMessage };

/** The dead-letter queue's consumer: each message becomes one object; acked once stored. */
export async function recordDeadLetters(batch: MessageBatch<OutboxMessage>, env: Env): Promise<void> {
  const deadAt = new Date().toISOString();
  await Promise.all(
    batch.messages.map(async (m) => {
      const letter: DeadLetter = {
        id: m.id,
        queue: batch.queue,
        attempts: m.attempts,
        sentAt: m.timestamp.toISOString(),
        deadAt,
        body: m.body,
      };
      try {
        await env.DEAD_LETTERS.put(`${PENDING}${deadAt}-${m.id}.json`, JSON.stringify(letter));
        logger.error({ msg: "dead letter kept", id: m.id, shard: m.body.shard, receipts: m.body.receipts.length });
        m.ack();
      } catch (e) {
        logger.error({ msg: "dead letter: could not keep it", id: m.id, error: describeError(e) });
        m.retry({ delaySeconds: 30 });
      }
    }),
  );
}

/** Dead letters waiting to be replayed (one R2 list call: at most 1,000). */
export async function pendingDeadLetters(bucket: R2Bucket): Promise<number> {
  const listed = await bucket.list({ prefix: PENDING, limit: 1000 });
  return listed.objects.length;
}

export const deadLetters = router();

deadLetters.openapi(deadLettersRoute, async (c) => {
  const q = c.req.valid("query");
  const listed = await c.env.DEAD_LETTERS.list({
    prefix: PENDING,
    limit: q.limit,
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  const letters = await Promise.all(
    listed.objects.map(async (o) => {
      const letter = (await (await c.env.DEAD_LETTERS.get(o.key))?.json()) as DeadLetter | null;
      return letter
        ? {
            id: letter.id,
            deadAt: letter.deadAt,
            attempts: letter.attempts,
            shard: letter.body.shard,
            receipts: letter.body.receipts.length,
            counters: letter.body.receipts.map((r) => r.counter),
          }
        : null;
    }),
  );
  return c.json(
    {
      deadLetters: letters.filter((l) => l !== null),
      cursor: listed.truncated ? listed.cursor : null,
    },
    200,
  );
});

/**
 * Sends pending letters back to the receipts queue, then marks them replayed:
 * REPLAY_PER_CALL a call (each costs four subrequests, under a Worker's limit).
 */
deadLetters.openapi(replayRoute, async (c) => {
  const bucket = c.env.DEAD_LETTERS;
  const listed = await bucket.list({ prefix: PENDING, limit: REPLAY_PER_CALL });
  let replayed = 0;
  for (const o of listed.objects) {
    const object = await bucket.get(o.key);
    if (!object) continue;
    const text = await object.text();
    const letter = JSON.parse(text) as DeadLetter;
    await c.env.RECEIPTS_QUEUE.send(letter.body, { contentType: "json" });
    // Sent first, then moved: a crash between sends it again, which the insert absorbs.
    await bucket.put(`${REPLAYED}${o.key.slice(PENDING.length)}`, text);
    await bucket.delete(o.key);
    replayed++;
  }
  return c.json({ replayed, more: listed.truncated }, 200);
});
