/**
 * The shard's ports (durable-objects/ports.ts) for tests: the real storage,
 * queue and bucket of a Durable Object, with faults injected where a test asks.
 * A test opens a second Shard over an object's storage inside runInDurableObject,
 * drives it, and evicts the object so the real one reloads from storage.
 */

import { env } from "cloudflare:test";
import { canonicalHash } from "../../core/canonical.ts";
import { hashSecret } from "../../core/credentials.ts";
import type { OutboxMessage } from "../../core/outbox.ts";
import { parseReceipt } from "../../core/receipt.ts";
import { shardConfig } from "../../durable-objects/config.ts";
import type { IssueRequest } from "../../durable-objects/issuer.ts";
import type { ShardDeps, ShardStorage } from "../../durable-objects/ports.ts";
import { Shard } from "../../durable-objects/shard.ts";
import { peerOf, recordFromPostgres } from "../../durable-objects/store-shard.ts";
import { consoleLogger } from "../../kit/logger.ts";

export function storageOf(storage: DurableObjectStorage): ShardStorage {
  return {
    sql: storage.sql,
    transactionSync: (fn) => storage.transactionSync(fn),
    sync: () => storage.sync(),
    getAlarm: () => storage.getAlarm(),
    setAlarm: (at) => storage.setAlarm(at),
  };
}

export function openShard(storage: DurableObjectStorage, faults: Partial<ShardDeps> = {}): Shard {
  return new Shard({
    storage: storageOf(storage),
    queue: env.RECEIPTS_QUEUE,
    tiles: env.LOG_TILES,
    witnessFetch: (url, init) => fetch(url, init),
    config: shardConfig(env),
    clock: Date.now,
    logger: consoleLogger(),
    peer: peerOf(env),
    findRecord: recordFromPostgres(env),
    ...faults,
  });
}

/** Runs the transaction's work, then fails as a commit would: everything it wrote is rolled back. */
export function commitFails(storage: DurableObjectStorage): ShardStorage {
  return {
    ...storageOf(storage),
    transactionSync: (fn) =>
      storage.transactionSync(() => {
        fn();
        throw new Error("commit failed");
      }),
  };
}

/** The transaction commits, then confirming it fails ("failed but persisted"): the caller hears an error. */
export function syncFails(storage: DurableObjectStorage): ShardStorage {
  return { ...storageOf(storage), sync: async () => Promise.reject(new Error("sync failed")) };
}

/** The queue accepts the batch, but the reply is lost. */
export const deliversThenThrows: ShardDeps["queue"] = {
  sendBatch: async (batch: Iterable<MessageSendRequest<OutboxMessage>>) => {
    await env.RECEIPTS_QUEUE.sendBatch(batch);
    throw new Error("reply lost");
  },
};

/** The queue says yes and loses the messages. */
export const dropsMessages: ShardDeps["queue"] = { sendBatch: async () => {} };

/** An issue request for one sale, as ingest would make it. */
export function oneSale(shard: number, token: string, sale: unknown, key = crypto.randomUUID()): IssueRequest {
  return {
    shard,
    tokenHash: hashSecret(token),
    entries: [{ idempotencyKey: key, bodyHash: canonicalHash(sale), receipt: parseReceipt(sale, Date.now()) }],
  };
}
