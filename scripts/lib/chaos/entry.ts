/**
 * The chaos Worker entry (`npm run chaos`, scripts/lib/stack/local.ts `chaos: true`): the
 * product's own Worker and StoreShard with the faults of faults.ts around
 * them, the way the bench's entry wraps them with its counter. The product's
 * bundle has none of this: no fault field, no faults route, no per-batch check.
 *
 *   POST /v1/ops/faults   arms a fault for `seconds` (operator token)
 *   shard faults          the shard's queue port fails after a send (faulty-queue.ts)
 *   consumer fault        first deliveries come again (redelivery.ts)
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ShardDeps, ShardEnv } from "../../../durable-objects/ports.ts";
import { consoleLogger } from "../../../kit/logger.ts";
import type { Env } from "../../../workers/env.ts";
import { onError, requireOperator } from "../../../workers/http.ts";
import worker, { StoreShard as ProductShard } from "../../../workers/index.ts";
import { json, jsonBody, router } from "../../../workers/openapi.ts";
import { DEAD_LETTER_QUEUE } from "../../../workers/ops/dead-letters.ts";
import { shard, shardCount } from "../../../workers/shards.ts";
import { WEBHOOK_QUEUE } from "../../../workers/shared/webhook-queue.ts";
import { activeFault, FAULTS, type FaultPlan, faultRequestSchema } from "./faults.ts";
import { faultyQueue } from "./faulty-queue.ts";
import { redeliverFirst } from "./redelivery.ts";

const chaosLogger = consoleLogger();

type QueueBody = Parameters<typeof worker.queue>[0] extends MessageBatch<infer T> ? T : never;

export class StoreShard extends ProductShard {
  // No initializer: the product's constructor asks queueFor before a subclass field would be set.
  private fault?: FaultPlan;

  protected override queueFor(ctx: DurableObjectState, env: ShardEnv): ShardDeps["queue"] {
    return faultyQueue(
      env.RECEIPTS_QUEUE,
      () => activeFault(this.fault ?? null, Date.now()),
      (reason) => {
        chaosLogger.warn({ msg: reason, shard: this.shard.shard });
        ctx.abort(reason);
      },
    );
  }

  /** Arms a shard fault; lost with the object, as it should be. */
  injectFault(plan: FaultPlan): boolean {
    this.fault = plan;
    return true;
  }
}

/** The consumer's armed fault, in this isolate (a local stack runs one). */
let consumerPlan: FaultPlan | null = null;

const faultsRoute = createRoute({
  method: "post",
  path: "/v1/ops/faults",
  hide: true,
  middleware: [requireOperator, jsonBody] as const,
  request: { body: { required: true, content: { "application/json": { schema: faultRequestSchema } } } },
  responses: { 200: json("Armed", z.object({ fault: z.string(), until: z.iso.datetime(), armed: z.number().int() })) },
});

const faults = router();
faults.openapi(faultsRoute, async (c) => {
  const { fault, seconds } = c.req.valid("json");
  const plan: FaultPlan = { fault, until: Date.now() + seconds * 1000 };
  let armed = 0;
  if (FAULTS[fault] === "consumer") {
    consumerPlan = plan;
    armed = 1;
  } else {
    const chaosShard = (n: number) => shard(c.env, n) as unknown as DurableObjectStub<StoreShard>;
    const results = await Promise.allSettled(
      Array.from({ length: shardCount(c.env) }, (_, n) => chaosShard(n).injectFault(plan)),
    );
    armed = results.filter((r) => r.status === "fulfilled" && r.value).length;
  }
  return c.json({ fault, until: new Date(plan.until).toISOString(), armed }, 200);
});
faults.onError(onError);

export default {
  ...worker,
  fetch: (request, env, ctx) =>
    new URL(request.url).pathname === "/v1/ops/faults"
      ? faults.fetch(request, env, ctx)
      : worker.fetch(request, env, ctx),
  queue: (batch, env, ctx) => {
    const receipts = batch.queue !== WEBHOOK_QUEUE && batch.queue !== DEAD_LETTER_QUEUE;
    const armed = receipts && activeFault(consumerPlan, Date.now()) === "duplicate_delivery";
    const delivered = armed
      ? redeliverFirst(batch, (id) => chaosLogger.warn({ msg: "chaos: delivering again", id }))
      : batch;
    return worker.queue(delivered, env, ctx);
  },
} satisfies ExportedHandler<Env, QueueBody>;
