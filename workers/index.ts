/**
 * The one deployable Worker: ingest, verify, tenant admin and ops routes, the
 * queue consumer, the partition cron, and the StoreShard Durable Object class.
 */

import { cors } from "hono/cors";
import type { ChannelSession } from "../core/channel.ts";
import type { OutboxMessage } from "../core/outbox.ts";
import type { WebhookMessage } from "../core/webhooks.ts";
import { withPg } from "../db/client.ts";
import { beat } from "../db/heartbeat.ts";
import { ensurePartitions, type PartitionOutcome } from "../db/partitions.ts";
import { refreshTimeZones } from "../db/rollups.ts";
import { databasesOrPrimary, dbEnvOf, isRouted, withDatabases } from "../db/routing.ts";
import { listTenantNames } from "../db/tenants.ts";
import { pruneDeliveredDeliveries } from "../db/webhooks.ts";
import { StoreShard as ShardObject } from "../durable-objects/store-shard.ts";
import { describeError } from "../kit/describe-error.ts";
import { dashboard } from "./analytics/dashboard.ts";
import { analytics } from "./analytics/index.ts";
import { archive, archiveDueDays } from "./archive/index.ts";
import { mountReference } from "./docs/index.ts";
import type { Env } from "./env.ts";
import { closePg, notFoundHandler, onError } from "./http.ts";
import { answerChannel } from "./ingest/channel.ts";
import { ingest } from "./ingest/index.ts";
import { log } from "./log/index.ts";
import { keepDrawnWinners, lottery } from "./lottery/index.ts";
import { router } from "./openapi.ts";
import { opsConsole } from "./ops/console.ts";
import { DEAD_LETTER_QUEUE, deadLetters, recordDeadLetters } from "./ops/dead-letters.ts";
import { ops } from "./ops/index.ts";
import { metrics } from "./ops/metrics.ts";
import { status } from "./ops/status.ts";
import { consumeReceipts } from "./persist/index.ts";
import { publicReadLimit } from "./public-limit.ts";
import { logger, requestContext } from "./request-context.ts";
import { backfillBranding, brandingComplete } from "./shared/branding-store.ts";
import { WEBHOOK_QUEUE } from "./shared/webhook-queue.ts";
import { tenant } from "./tenant/index.ts";
import { pageErrorsAsHtml, stripPageSlash, verify } from "./verify/index.ts";
import { deliverWebhooks, sweepOverdueDeliveries } from "./webhooks/deliver.ts";
import { webhooks } from "./webhooks/index.ts";
import { receiptPersistedEvent } from "./webhooks/routes.ts";

/** The shard's Durable Object, with the terminal channel's answers wired in (workers/ingest/channel.ts). */
export class StoreShard extends ShardObject<Env> {
  protected override answerChannel(session: ChannelSession, message: string | ArrayBuffer, inFlight: number) {
    return answerChannel({ env: this.env, session, message, inFlight, issue: (req) => this.shard.issue(req) });
  }
}

/** Delivered webhook deliveries stay in the delivery log this long. */
const DELIVERY_LOG_DAYS = 7;
/** Rows a prune statement deletes; the cron repeats it (up to 5 M a day) until less are left. */
const PRUNE_PER_CALL = 100_000;

export const app = router();
app.use("*", requestContext);
app.use("*", closePg);
// The public reads may be called from a tenant's own site (no credentials involved).
const publicRead = cors({ origin: "*", allowMethods: ["GET", "HEAD"], maxAge: 86_400 });
app.use("/v1/verify/*", publicRead);
app.use("/v1/branding/*", publicRead);
app.use("/v1/log/*", publicRead);
app.use("/v1/lottery/*", publicRead);
// Before the limit, so a page's 429 is a page; a stray slash after a code goes to the code's page.
app.use("/r/*", pageErrorsAsHtml, stripPageSlash);
for (const path of ["/v1/verify/*", "/r/*", "/v1/branding/*", "/v1/log/*", "/v1/lottery/*", "/lottery/*"]) {
  app.use(path, publicReadLimit);
}
app.route("/", ingest);
app.route("/", verify);
app.route("/", log);
app.route("/", lottery);
app.route("/", tenant);
// After tenant: its body limit and requireTenant guard these too.
app.route("/", analytics);
app.route("/", webhooks);
app.route("/", ops);
app.route("/", deadLetters);
app.route("/", archive);
app.route("/", metrics);
app.route("/", status);
app.route("/", opsConsole);
app.route("/", dashboard);
mountReference(app, [receiptPersistedEvent]);
app.notFound(notFoundHandler);
app.onError(onError);

export default {
  fetch: app.fetch,
  queue: (batch: MessageBatch<OutboxMessage | WebhookMessage>, env: Env, ctx: ExecutionContext) => {
    if (batch.queue === WEBHOOK_QUEUE) return deliverWebhooks(batch as MessageBatch<WebhookMessage>, env, ctx);
    const receipts = batch as MessageBatch<OutboxMessage>;
    return batch.queue === DEAD_LETTER_QUEUE ? recordDeadLetters(receipts, env) : consumeReceipts(receipts, env, ctx);
  },
  /**
   * Every minute: webhook deliveries whose queue message was lost. Daily: keeps
   * receipt partitions created a week ahead (a day that fails is logged, the others
   * still made), archives the days older than HOT_DAYS (workers/archive/) and forgets delivered webhook deliveries after DELIVERY_LOG_DAYS.
   */
  scheduled: async (controller: ScheduledController, env: Env, ctx: ExecutionContext) => {
    if (controller.cron === "* * * * *") {
      await backfillBrandingOnce(env, ctx).catch((e: unknown) =>
        logger.error({ msg: "branding backfill failed", error: describeError(e) }),
      );
      // Receipts databases measure their copy of the control plane against this (db/heartbeat.ts).
      if (isRouted(env))
        await withPg(env, ctx, (pg) => beat(pg.db)).catch((e: unknown) =>
          logger.error({ msg: "control plane heartbeat failed", error: describeError(e) }),
        );
      return sweepOverdueDeliveries(env, ctx);
    }
    // Each receipts database keeps its own partitions and delivery log (db/routing.ts).
    const outcomes: (PartitionOutcome & { database: string })[] = [];
    for (const database of databasesOrPrimary(env).databases) {
      const at = dbEnvOf(env, database);
      for (const o of await withPg(at, ctx, (pg) => ensurePartitions(pg.db, 7)).catch((e: unknown) => [
        { day: "all", outcome: `failed: ${describeError(e)}` },
      ]))
        outcomes.push({ database: database.name, ...o });
      let pruned = 0;
      for (let round = 0, n = PRUNE_PER_CALL; round < 50 && n === PRUNE_PER_CALL; round++) {
        n = await withPg(at, ctx, (pg) => pruneDeliveredDeliveries(pg.db, DELIVERY_LOG_DAYS, PRUNE_PER_CALL)).catch(
          (e: unknown) => {
            logger.error({ msg: "webhook delivery log not pruned", database: database.name, error: describeError(e) });
            return 0;
          },
        );
        pruned += n;
      }
      logger.info({ msg: "webhook delivery log pruned", database: database.name, deleted: pruned });
    }
    // Before the archive: a drawn draw's winners are kept while its days are still in Postgres.
    await withDatabases(env, ctx, (primary, all) => keepDrawnWinners(primary, all)).catch((e: unknown) =>
      logger.error({ msg: "lottery winners not kept", error: describeError(e) }),
    );
    await archiveDueDays(env, ctx).catch((e: unknown) =>
      logger.error({ msg: "archive failed", error: describeError(e) }),
    );
    const zones = await withPg(env, ctx, (pg) => refreshTimeZones(pg.db));
    logger.info({ msg: "time zones refreshed", known: zones });
    for (const o of outcomes) {
      const failed = o.outcome.startsWith("failed");
      (failed ? logger.error : logger.info)({ msg: "receipt partition", ...o });
    }
  },
} satisfies ExportedHandler<Env, OutboxMessage | WebhookMessage>;

/** Tenants from before branding was seeded at creation get theirs, once, within a minute of an upgrade. */
async function backfillBrandingOnce(env: Env, ctx: ExecutionContext): Promise<void> {
  if (await brandingComplete(env.BRANDING)) return;
  const tenants = await withPg(env, ctx, (pg) => listTenantNames(pg.db));
  const seeded = await backfillBranding(env.BRANDING, tenants);
  logger.info({ msg: "branding backfilled", tenants: tenants.length, seeded });
}
