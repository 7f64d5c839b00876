/**
 * Sending webhook deliveries. Postgres holds every delivery from the moment
 * its receipt is persisted (db/receipts.ts); the webhooks queue carries
 * "send these now", one message per webhook and persisted batch. A failed
 * attempt is retried through the queue with backoff until the delivery is
 * WEBHOOK_RETRY_FOR_S old (24 h), then marked failed: the dead letter, listed
 * with ?status=failed and sent again by hand. A message that is lost leaves
 * its deliveries pending and overdue; the minute sweep sends them again.
 */

import { type ReceiptFields, receiptFields } from "../../api/responses.ts";
import { codeRoute } from "../../core/code.ts";
import { config } from "../../core/config.ts";
import { databaseNamed, PRIMARY } from "../../core/db-routes.ts";
import type { ChainRecord } from "../../core/receipt.ts";
import {
  afterFailure,
  DELIVERY_TIMEOUT_MS,
  eventBody,
  retryDelaySeconds,
  signatureHeader,
  type WebhookMessage,
  webhookSecret,
  webhookUrlProblem,
} from "../../core/webhooks.ts";
import { type Db, withPg } from "../../db/client.ts";
import { recordFromRow, rowOfRecord } from "../../db/receipts.ts";
import { databasesOrPrimary, dbEnvOf, routesOf } from "../../db/routing.ts";
import {
  type AttemptResult,
  claimOverdueDeliveries,
  type DeliveryJob,
  type DeliveryKey,
  deferDeliveries,
  loadDeliveryJobs,
  recordAttempts,
  type StoredJob,
} from "../../db/webhooks.ts";
import { describeError } from "../../kit/describe-error.ts";
import type { Env } from "../env.ts";
import { logger } from "../request-context.ts";
import { findArchived } from "../shared/archived-receipt.ts";
import { brandingOrDefault } from "../shared/branding-store.ts";
import { type LogViews, logViews, recordProblem } from "../shared/record-check.ts";
import { announceDeliveries } from "../shared/webhook-queue.ts";

/**
 * Messages sent at once in one run, each one event at a time: a Worker has six
 * connections, and Postgres and KV take one each; more would wait for a
 * connection inside the 10 s a receiver is given.
 */
const SENDS_AT_ONCE = 4;

/** A pending delivery whose due time passed this long ago is presumed lost in the queue. */
const SWEEP_GRACE_S = 600;
const SWEEP_LIMIT = 5_000;

/**
 * The jobs for `keys` with their receipts: from Postgres, or from the archive
 * for a receipt whose day left it (a retry, or a delivery sent again by hand,
 * weeks later). One that is in neither, or is not the delivery's own receipt,
 * is left out, as is one `wanted` refuses (before its receipt is looked for,
 * so a delivery already settled costs no archive read). Throws when the
 * archive cannot be read now.
 */
export async function loadJobs(
  env: Env,
  db: Db,
  keys: DeliveryKey[],
  wanted: (job: StoredJob) => boolean = () => true,
): Promise<DeliveryJob[]> {
  const jobs: DeliveryJob[] = [];
  for (const job of await loadDeliveryJobs(db, keys)) {
    if (!wanted(job)) continue;
    const resolved = job.row ? { ...job, row: job.row } : await fromArchive(env, db, job);
    if (resolved) jobs.push(resolved);
  }
  return jobs;
}

async function fromArchive(env: Env, db: Db, job: StoredJob): Promise<DeliveryJob | null> {
  const route = codeRoute(job.code);
  if (!route) return null;
  const found = await findArchived(env, db, { shard: route.shard, counter: route.counter, code: job.code });
  // The receipt must be the webhook's tenant's own, received when the delivery says.
  if (!found || found.record.tenantId !== job.tenantId || Date.parse(found.record.receivedAt) !== job.receivedMs) {
    return null;
  }
  return {
    ...job,
    row: rowOfRecord(found.record, found.hash),
    storeName: found.storeName,
    tenantName: found.tenantName,
  };
}

/** The webhooks queue's consumer: each database's messages against that database. */
export async function deliverWebhooks(
  batch: MessageBatch<WebhookMessage>,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  const byDatabase = new Map<string, Message<WebhookMessage>[]>();
  for (const m of batch.messages) {
    const name = m.body.db ?? PRIMARY;
    byDatabase.set(name, [...(byDatabase.get(name) ?? []), m]);
  }
  await Promise.all([...byDatabase].map(([name, messages]) => deliverFrom(env, ctx, name, messages)));
}

async function deliverFrom(
  env: Env,
  ctx: ExecutionContext,
  name: string,
  messages: readonly Message<WebhookMessage>[],
): Promise<void> {
  const settings = config(env);
  try {
    const database = databaseNamed(routesOf(env), name);
    if (!database) throw new Error(`no database "${name}" in DATABASE_URLS`);
    await withPg(dbEnvOf(env, database), ctx, async ({ db }) => {
      const keys = messages.flatMap((m) =>
        m.body.eventIds.map((eventId) => ({ tenantId: m.body.tenantId, webhookId: m.body.webhookId, eventId })),
      );
      // Only pending deliveries are sent: a redelivered message's settled ones never reach the archive.
      const jobs = await loadJobs(env, db, keys, (j) => j.status === "pending");
      const byKey = new Map(jobs.map((j) => [`${j.tenantId}/${j.webhookId}/${j.eventId}`, j]));
      const names = brandingNames(env);
      const views = logViews(env);
      await eachWithLimit(messages, SENDS_AT_ONCE, async (m) => {
        // Gone (webhook deleted), delivered or given up: nothing to do for it (a redelivered
        // message, or a manual retry got there first).
        const due = m.body.eventIds
          .map((eventId) => byKey.get(`${m.body.tenantId}/${m.body.webhookId}/${eventId}`))
          .filter((j): j is DeliveryJob => j !== undefined);
        const results = await sendInOrder(env, due, names, views);
        await recordAttempts(db, results);
        const waiting = results.filter((r) => r.status === "pending");
        if (!waiting.length && results.length === due.length) return m.ack();
        const base = settings.WEBHOOK_RETRY_BASE_S;
        const wait = waiting.length ? Math.min(...waiting.map((r) => r.retryInSeconds ?? base)) : base;
        await deferDeliveries(db, due.slice(results.length), wait);
        m.retry({ delaySeconds: wait });
      });
    });
  } catch (e) {
    // Postgres, or the archive an archived receipt is read from, unreachable (or the routing table
    // unreadable): nothing was recorded; the deliveries stay pending and come back.
    logger.error({
      msg: "webhooks: batch failed; retrying",
      database: name,
      messages: messages.length,
      error: describeError(e),
    });
    for (const m of messages) m.retry({ delaySeconds: settings.WEBHOOK_RETRY_BASE_S });
  }
}

async function eachWithLimit<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

type Names = (tenantId: string, fallback: string) => Promise<string>;

/** The tenant's display name, read once per tenant and batch (as verify shows it). */
function brandingNames(env: Env): Names {
  const cache = new Map<string, Promise<string>>();
  return (tenantId, fallback) => {
    let name = cache.get(tenantId);
    if (!name) {
      name = brandingOrDefault(env.BRANDING, tenantId, fallback).then(
        (b) => b.displayName,
        () => fallback,
      );
      cache.set(tenantId, name);
    }
    return name;
  };
}

/**
 * One webhook's due deliveries, in order, one at a time. A receiver that
 * cannot be reached (no answer, timeout) stops the rest until the next try: a
 * receiver that is down costs one attempt per message, not fifty.
 */
async function sendInOrder(env: Env, jobs: DeliveryJob[], names: Names, views: LogViews): Promise<AttemptResult[]> {
  const results: AttemptResult[] = [];
  for (const job of jobs) {
    const result = await attemptDelivery(env, job, names, views);
    results.push(result);
    if (result.httpStatus === null && result.status === "pending") break;
  }
  return results;
}

/** The verify answer's receipt fields (docs/api.md "Tenant webhooks"). */
async function receiptOf(job: DeliveryJob, r: ChainRecord, names: Names): Promise<ReceiptFields> {
  return receiptFields(r, job.row.hash, {
    tenantDisplayName: await names(r.tenantId, job.tenantName ?? r.tenantId),
    storeName: job.storeName ?? r.storeId,
  });
}

/**
 * One attempt: check the receipt against its shard's signed log as verify
 * does, then POST the event, signed, and judge the answer. A receipt that
 * fails the check is held: never signed, never sent, alerted. Any 2xx within
 * DELIVERY_TIMEOUT_MS is delivered; a redirect is not followed (it would
 * leave the address the tenant registered) and counts as a failure.
 */
export async function attemptDelivery(
  env: Env,
  job: DeliveryJob,
  names: Names = brandingNames(env),
  views: LogViews = logViews(env),
): Promise<AttemptResult> {
  const settings = config(env);
  const key = { tenantId: job.tenantId, webhookId: job.webhookId, eventId: job.eventId };
  const fail = (httpStatus: number | null, error: string): AttemptResult => {
    // A manual resend that fails leaves a delivered or given-up delivery as it was.
    const status = job.status === "pending" ? afterFailure(job.ageSeconds, settings.WEBHOOK_RETRY_FOR_S) : job.status;
    const retryInSeconds =
      status === "pending" ? retryDelaySeconds(job.attempts + 1, settings.WEBHOOK_RETRY_BASE_S, Math.random()) : null;
    return { ...key, status, httpStatus, error, retryInSeconds };
  };
  // Checked again at send time: the setting may have changed since the URL was accepted.
  const problem = webhookUrlProblem(job.url, { allowInsecure: settings.ALLOW_INSECURE_WEBHOOKS === "on" });
  if (problem) return fail(null, `url refused: ${problem}`);
  const record = recordFromRow(job.row);
  let held: string | null;
  try {
    held = await recordProblem(env, record, job.row.hash, views);
  } catch (e) {
    logger.warn({ msg: "webhooks: log unreadable; delivery waits", eventId: job.eventId, error: describeError(e) });
    return fail(null, "its receipt cannot be checked against the signed log right now");
  }
  if (held) {
    logger.error({ msg: "webhooks: receipt fails its log check; delivery held", ...key, code: record.code, held });
    return { ...key, status: "held", httpStatus: null, error: `held: ${held}`, retryInSeconds: null };
  }
  const body = eventBody(job.eventId, job.createdAt, await receiptOf(job, record, names));
  const secret = webhookSecret(env.CODE_KEY, { tenantId: job.tenantId, id: job.webhookId }, job.salt);
  try {
    const res = await fetch(job.url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      headers: {
        "content-type": "application/json",
        "user-agent": "Tillproof-Webhooks/1",
        "tillproof-event-id": job.eventId,
        "tillproof-signature": signatureHeader(secret, Math.floor(Date.now() / 1000), body),
      },
      body,
    });
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) {
      return { ...key, status: "delivered", httpStatus: res.status, error: null, retryInSeconds: null };
    }
    return fail(res.status, `receiver answered ${res.status}`);
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
    return fail(null, timedOut ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s` : "could not connect");
  }
}

/** The minute sweep: pending deliveries whose message was lost go back on the queue, database by database. */
export async function sweepOverdueDeliveries(env: Env, ctx: ExecutionContext): Promise<void> {
  for (const database of databasesOrPrimary(env).databases) {
    const keys = await withPg(dbEnvOf(env, database), ctx, ({ db }) =>
      claimOverdueDeliveries(db, SWEEP_GRACE_S, SWEEP_LIMIT),
    ).catch((e: unknown) => {
      logger.error({ msg: "webhooks: sweep failed", database: database.name, error: describeError(e) });
      return [];
    });
    if (!keys.length) continue;
    (keys.length === SWEEP_LIMIT ? logger.warn : logger.info)({
      msg: "webhooks: overdue deliveries sent again",
      database: database.name,
      count: keys.length,
    });
    await announceDeliveries(env, keys, database.name);
  }
}
