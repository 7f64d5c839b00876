/**
 * POST /v1/ops/faults: arms a chaos fault (core/faults.ts) for `npm run chaos`.
 * It answers 404 unless FAULT_INJECTION=on, so a production Worker has no
 * such route. Shard faults are armed in every shard; the consumer's is kept in
 * this isolate (a local stack runs one).
 */
import type { MiddlewareHandler } from "hono";
import { notFound } from "../../api/errors.ts";
import { config } from "../../core/config.ts";
import { activeFault, FAULTS, type FaultName, type FaultPlan } from "../../core/faults.ts";
import type { AppEnv } from "../http.ts";
import { router } from "../openapi.ts";
import { shard, shardCount } from "../shards.ts";
import { faultsRoute } from "./routes.ts";

let consumerPlan: FaultPlan | null = null;

/** The consumer's armed fault, if it still holds. */
export function consumerFault(now: number): FaultName | null {
  return activeFault(consumerPlan, now);
}

export const faults = router();

const onlyWhenEnabled: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (config(c.env).FAULT_INJECTION !== "on") throw notFound("Route");
  await next();
};

faults.openapi(faultsRoute(onlyWhenEnabled), async (c) => {
  const { fault, seconds } = c.req.valid("json");
  const plan: FaultPlan = { fault, until: Date.now() + seconds * 1000 };
  let armed = 0;
  if (FAULTS[fault] === "consumer") {
    consumerPlan = plan;
    armed = 1;
  } else {
    const shards = Array.from({ length: shardCount(c.env) }, (_, n) => n);
    const results = await Promise.allSettled(shards.map((n) => shard(c.env, n).injectFault(plan)));
    armed = results.filter((r) => r.status === "fulfilled" && r.value).length;
  }
  return c.json({ fault, until: new Date(plan.until).toISOString(), armed }, 200);
});
