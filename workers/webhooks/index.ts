/**
 * Tenant webhooks: managed here (tenant key, own tenant: requireTenant guards
 * /v1/tenants/{tenantId}/*), sent from the persistence path (deliver.ts).
 */

import { ApiError, notFound, unavailable, validationFailed } from "../../api/errors.ts";
import { codeRoute } from "../../core/code.ts";
import { config } from "../../core/config.ts";
import { MAX_WEBHOOKS_PER_TENANT, newSecretSalt, webhookSecret, webhookUrlProblem } from "../../core/webhooks.ts";
import { findInShardDatabases } from "../../db/routing.ts";
import {
  deleteWebhook,
  findDelivery,
  findWebhook,
  listDeliveries,
  listWebhooks,
  parseCursor,
  recordAttempts,
  unknownStores,
  upsertWebhook,
} from "../../db/webhooks.ts";
import { describeError } from "../../kit/describe-error.ts";
import { pg, pgAt, receiptDbs } from "../http.ts";
import { router } from "../openapi.ts";
import { logger } from "../request-context.ts";
import { audit } from "../shared/audit-trail.ts";
import { attemptDelivery, loadJobs } from "./deliver.ts";
import {
  deleteWebhookRoute,
  getWebhook,
  listDeliveriesRoute,
  listWebhooksRoute,
  putWebhook,
  retryDeliveryRoute,
} from "./routes.ts";

export const webhooks = router();

webhooks.openapi(putWebhook, async (c) => {
  const { tenantId, webhookId } = c.req.valid("param");
  const input = c.req.valid("json");
  const problem = webhookUrlProblem(input.url, { allowInsecure: config(c.env).ALLOW_INSECURE_WEBHOOKS === "on" });
  if (problem) throw validationFailed([{ path: "url", message: problem }], "This URL cannot receive webhooks.");
  const { db } = pg(c);
  const unknown = input.storeIds ? await unknownStores(db, tenantId, input.storeIds) : [];
  if (unknown.length) {
    throw validationFailed(
      unknown.map((id) => ({ path: `storeIds.${input.storeIds?.indexOf(id)}`, message: `no store ${id}` })),
      "Create the stores first.",
    );
  }
  const saved = await upsertWebhook(
    db,
    {
      tenantId,
      id: webhookId,
      url: input.url,
      events: input.events,
      storeIds: input.storeIds ?? null,
      salt: newSecretSalt(),
    },
    MAX_WEBHOOKS_PER_TENANT,
  );
  if (!saved) {
    throw new ApiError(
      409,
      "too_many_webhooks",
      `A tenant may have ${MAX_WEBHOOKS_PER_TENANT} webhooks; delete one first.`,
    );
  }
  const { url, events, storeIds } = saved.webhook;
  await audit(c, {
    tenantId,
    action: saved.created ? "webhook.create" : "webhook.update",
    target: webhookId,
    detail: { url, events, storeIds },
  });
  if (!saved.created) return c.json({ webhook: saved.webhook }, 200);
  const secret = webhookSecret(c.env.CODE_KEY, { tenantId, id: webhookId }, saved.salt);
  return c.json({ webhook: saved.webhook, secret }, 201);
});

webhooks.openapi(listWebhooksRoute, async (c) => {
  const { tenantId } = c.req.valid("param");
  return c.json({ webhooks: await listWebhooks(pg(c).db, tenantId) }, 200);
});

webhooks.openapi(getWebhook, async (c) => {
  const { tenantId, webhookId } = c.req.valid("param");
  const webhook = await findWebhook(pg(c).db, tenantId, webhookId);
  if (!webhook) throw notFound(`Webhook ${webhookId}`);
  return c.json({ webhook }, 200);
});

webhooks.openapi(deleteWebhookRoute, async (c) => {
  const { tenantId, webhookId } = c.req.valid("param");
  if (!(await deleteWebhook(pg(c).db, tenantId, webhookId))) throw notFound(`Webhook ${webhookId}`);
  await audit(c, { tenantId, action: "webhook.delete", target: webhookId });
  return c.body(null, 204);
});

webhooks.openapi(listDeliveriesRoute, async (c) => {
  const { tenantId, webhookId } = c.req.valid("param");
  const query = c.req.valid("query");
  const before = query.before === undefined ? undefined : parseCursor(query.before);
  if (before === null) {
    throw validationFailed([{ path: "before", message: "must be a page's `next`" }], "The query string is not valid.");
  }
  const { db } = pg(c);
  if (!(await findWebhook(db, tenantId, webhookId))) throw notFound(`Webhook ${webhookId}`);
  const page = await listDeliveries(
    receiptDbs(c),
    { tenantId, webhookId },
    { status: query.status, limit: query.limit, before },
  );
  return c.json(page, 200);
});

webhooks.openapi(retryDeliveryRoute, async (c) => {
  const key = c.req.valid("param");
  // The delivery is in its receipt's database: the event names the code, the code its shard.
  const shardNo = codeRoute(key.eventId.slice("evt_".length))?.shard;
  if (shardNo === undefined) throw notFound(`Delivery ${key.eventId} of webhook ${key.webhookId}`);
  const found = await findInShardDatabases(c.env, shardNo, async (d) => {
    const { db } = pgAt(c, d);
    const [job] = await loadJobs(c.env, db, [key]).catch((e: unknown) => {
      logger.error({ msg: "webhooks: archived receipt unreadable", error: describeError(e) });
      throw unavailable("The receipt archive cannot be read right now.");
    });
    return job ? { job, db } : null;
  });
  if (!found) throw notFound(`Delivery ${key.eventId} of webhook ${key.webhookId}`);
  const { job, db } = found;
  const result = await attemptDelivery(c.env, job);
  await recordAttempts(db, [result]);
  const delivery = await findDelivery(db, key);
  if (!delivery) throw new ApiError(404, "not_found", "The webhook was deleted meanwhile.");
  return c.json({ delivery }, 200);
});
