/**
 * The queue consumer: one INSERT per batch into Postgres, then tell each shard
 * what Postgres now holds so it can prune. A message is acked only after its
 * receipts are committed; on failure it is retried with backoff and, past
 * max_retries, dead-lettered (the shard re-sends anything never confirmed). If
 * Postgres refuses a value, the work is split down to that one receipt, which
 * goes to the quarantine (its record, exactly as hashed, and the reason): a
 * receipt that was given a code is kept in Postgres whatever it holds, and
 * neither its batch nor its shard's ring waits on it.
 */

import { type Database, databaseFor } from "../../core/db-routes.ts";
import type { OutboxEntry, OutboxMessage, OutboxReceipt } from "../../core/outbox.ts";
import { type Pg, sqlStateOf, withPg } from "../../db/client.ts";
import { quarantineReceipt } from "../../db/quarantine.ts";
import { insertReceipts, type NewDelivery } from "../../db/receipts.ts";
import { dbEnvOf, isRouted, routesOf } from "../../db/routing.ts";
import { describeError } from "../../kit/describe-error.ts";
import type { Env } from "../env.ts";
import { logger } from "../request-context.ts";
import { shard } from "../shards.ts";
import { announceDeliveries } from "../shared/webhook-queue.ts";

export function retryDelaySeconds(attempts: number): number {
  // 5 s, 10 s, 20 s … capped at 15 min: ten attempts span ~51 min (docs/scale.md §5).
  return Math.min(900, 2 ** Math.max(0, attempts - 1) * 5);
}

export async function consumeReceipts(
  batch: MessageBatch<OutboxMessage>,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  // Receipts whose message was delivered before: a refusal seen twice is not a passing race.
  const retried = new Set(
    batch.messages
      .filter((m) => m.attempts > 1)
      .flatMap((m) => m.body.receipts.map((r) => `${m.body.shard}:${r.counter}`)),
  );
  let parts: Part[];
  try {
    parts = await byDatabase(
      env,
      batch.messages.map((m) => m.body),
    );
  } catch (e) {
    logger.error({ msg: "persist: cannot route the batch; retrying", error: describeError(e) });
    for (const m of batch.messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
    return;
  }
  // Each database on its own: one that is down holds back only the receipts routed to it.
  const landed = (
    await Promise.all(
      parts.map((part) =>
        withPg(dbEnvOf(env, part.database), ctx, async (pg) => {
          const deliveries: NewDelivery[] = [];
          try {
            const done = await persistSplitting(env, pg, part.bodies, deliveries, retried);
            // The new receipts' webhook deliveries are in Postgres with them; this only says "send now".
            ctx.waitUntil(announceDeliveries(env, deliveries, part.database.name));
            return done;
          } catch (e) {
            logger.error({
              msg: "persist failed; retrying",
              database: part.database.name,
              messages: part.bodies.length,
              error: describeError(e),
            });
            return [];
          }
        }),
      ),
    )
  ).flat();
  // Postgres has them: acking is now safe whatever the shards answer. A shard
  // that misses this report re-sends later, and the insert skips duplicates.
  const byShard = groupByShard(landed);
  await Promise.allSettled(
    [...byShard].map(([n, entries]) => shard(env, n).markPersisted(entries.map((e) => e.counter))),
  );
  const done = new Set([...byShard].flatMap(([n, entries]) => entries.map((e) => `${n}:${e.counter}`)));
  for (const m of batch.messages) {
    if (!m.body.receipts.every((r) => done.has(`${m.body.shard}:${r.counter}`)))
      m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
    else m.ack();
  }
}

/** Receipts bound for one database. */
type Part = { database: Database; bodies: OutboxMessage[] };

/**
 * Splits the batch by the database each receipt's shard and received day route
 * to (core/db-routes.ts). With one database the batch stays whole, as it came.
 * Otherwise records that travelled by reference are read from their shard first
 * (the day is in the record); one the shard no longer holds was confirmed already.
 */
async function byDatabase(env: Env, bodies: OutboxMessage[]): Promise<Part[]> {
  const routes = routesOf(env);
  if (!isRouted(env)) return [{ database: routes.primary, bodies }];
  const parts = new Map<string, Part>();
  const add = (database: Database, shardNo: number, entry: OutboxEntry) => {
    let part = parts.get(database.name);
    if (!part) {
      part = { database, bodies: [] };
      parts.set(database.name, part);
    }
    let body = part.bodies.find((b) => b.shard === shardNo);
    if (!body) {
      body = { v: 1, shard: shardNo, receipts: [] };
      part.bodies.push(body);
    }
    body.receipts.push(entry);
  };
  for (const [n, entries] of groupByShard(bodies)) {
    const resolved = new Map((await resolveReferences(env, new Map([[n, entries]]))).map((r) => [r.counter, r]));
    for (const e of entries) {
      const r = resolved.get(e.counter);
      // Gone from the shard: Postgres confirmed it; the primary's part reports it done as before.
      if (!r) add(routes.primary, n, e);
      else {
        // A record without a readable receivedAt cannot be routed; the primary refuses or quarantines it.
        const at = receivedMsOf(r.record);
        add(at === null ? routes.primary : databaseFor(routes, n, at), n, r);
      }
    }
  }
  return [...parts.values()];
}

/** A record's receivedAt (the day that routes it), or null when it has none that reads as a time. */
function receivedMsOf(record: string): number | null {
  try {
    const at = (JSON.parse(record) as { receivedAt?: unknown }).receivedAt;
    const ms = typeof at === "string" ? Date.parse(at) : Number.NaN;
    return Number.isFinite(ms) ? ms : null;
  } catch {
    return null;
  }
}

async function persist(env: Env, pg: Pg, bodies: OutboxMessage[], deliveries: NewDelivery[]): Promise<void> {
  const inserted = await insertReceipts(pg.db, await resolveReferences(env, groupByShard(bodies)));
  deliveries.push(...inserted.deliveries);
}

/**
 * Persists `bodies` in one statement (adding the webhook deliveries it created to `deliveries`). If Postgres refuses a value, splits the
 * work (batch → messages → receipts) so that only the refused receipt is left
 * out of `receipts`, and quarantines it once its message is a retry (a first
 * refusal may be a passing race). Returns what Postgres now holds. A failure
 * that is not about the data throws (the batch is retried).
 */
async function persistSplitting(
  env: Env,
  pg: Pg,
  bodies: OutboxMessage[],
  deliveries: NewDelivery[],
  retried: ReadonlySet<string>,
): Promise<OutboxMessage[]> {
  try {
    await persist(env, pg, bodies, deliveries);
    return bodies;
  } catch (e) {
    if (!rejectsData(e)) throw e;
    const [only] = bodies;
    if (bodies.length === 1 && only && only.receipts.length === 1) {
      const counter = only.receipts[0]?.counter;
      // A first refusal may be a race (a webhook deleted meanwhile): its message is retried once first.
      if (!retried.has(`${only.shard}:${counter}`)) {
        logger.error({
          msg: "postgres refused a receipt; retrying",
          shard: only.shard,
          counter,
          error: describeError(e),
        });
        return [];
      }
      const [receipt] = await resolveReferences(env, groupByShard(bodies));
      if (!receipt) return bodies; // the shard no longer holds it: Postgres confirmed it already
      if (!(await quarantineReceipt(pg.db, only.shard, receipt, e))) {
        logger.error({
          msg: "quarantine holds another receipt at this counter; kept in the shard",
          shard: only.shard,
          counter,
        });
        return [];
      }
      logger.error({
        msg: "postgres refused a receipt: quarantined",
        shard: only.shard,
        counter,
        error: describeError(e),
      });
      return bodies;
    }
    const pieces: OutboxMessage[][] =
      bodies.length > 1 || !only ? bodies.map((b) => [b]) : only.receipts.map((r) => [{ ...only, receipts: [r] }]);
    const landed: OutboxMessage[] = [];
    for (const piece of pieces) landed.push(...(await persistSplitting(env, pg, piece, deliveries, retried)));
    return landed;
  }
}

/** A data or constraint error (SQLSTATE class 22 or 23): this input, not the connection, is the problem. */
function rejectsData(e: unknown): boolean {
  const code = sqlStateOf(e);
  return code !== null && (code.startsWith("22") || code.startsWith("23"));
}

function groupByShard(bodies: readonly OutboxMessage[]): Map<number, OutboxEntry[]> {
  const byShard = new Map<number, OutboxEntry[]>();
  for (const b of bodies) {
    const list = byShard.get(b.shard) ?? [];
    list.push(...b.receipts);
    byShard.set(b.shard, list);
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
