/**
 * The webhooks queue's producer side: the consumer of receipts announces the
 * deliveries it recorded, the sweep announces overdue ones again, and
 * workers/webhooks/deliver.ts consumes them.
 */
import { PRIMARY } from "../../core/db-routes.ts";
import { EVENTS_PER_MESSAGE, type WebhookMessage } from "../../core/webhooks.ts";
import type { NewDelivery } from "../../db/receipts.ts";
import { describeError } from "../../kit/describe-error.ts";
import type { Env } from "../env.ts";
import { logger } from "../request-context.ts";

export const WEBHOOK_QUEUE = "tillproof-webhooks";

/** Packs deliveries (held by the database `db`) into messages: per webhook, at most EVENTS_PER_MESSAGE each. */
export function packDeliveries(deliveries: readonly NewDelivery[], db: string = PRIMARY): WebhookMessage[] {
  const byHook = new Map<string, WebhookMessage[]>();
  for (const d of deliveries) {
    const key = `${d.tenantId}/${d.webhookId}`;
    const list = byHook.get(key) ?? [];
    let last = list.at(-1);
    if (!last || last.eventIds.length >= EVENTS_PER_MESSAGE) {
      last = { tenantId: d.tenantId, webhookId: d.webhookId, eventIds: [], ...(db === PRIMARY ? {} : { db }) };
      list.push(last);
    }
    last.eventIds.push(d.eventId);
    byHook.set(key, list);
  }
  return [...byHook.values()].flat();
}

/**
 * Announces deliveries on the webhooks queue. Failure is logged, not thrown:
 * the deliveries are in Postgres, and the sweep finds them.
 */
export async function announceDeliveries(env: Env, deliveries: readonly NewDelivery[], db?: string): Promise<void> {
  const messages = packDeliveries(deliveries, db);
  try {
    for (let i = 0; i < messages.length; i += 100) {
      await env.WEBHOOK_QUEUE.sendBatch(messages.slice(i, i + 100).map((body) => ({ body })));
    }
  } catch (e) {
    logger.error({ msg: "webhooks: announce failed; the sweep will send them", error: describeError(e) });
  }
}
