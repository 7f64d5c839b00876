/**
 * The one deployable Worker: ingest, verify, tenant admin and ops routes, the
 * queue consumer, the partition cron, and the StoreShard Durable Object class.
 */

import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { cors } from "hono/cors";
import type { OutboxMessage } from "../core/outbox.ts";
import { withPg } from "../db/client.ts";
import type { Env } from "./env.ts";
import { type AppEnv, closePg, notFoundHandler, onError } from "./http.ts";
import { ingest } from "./ingest/index.ts";
import { log } from "./log/index.ts";
import { ops } from "./ops/index.ts";
import { consumeReceipts } from "./persist/index.ts";
import { tenant } from "./tenant/index.ts";
import { verify } from "./verify/index.ts";

export { StoreShard } from "../durable-objects/store-shard.ts";

export const app = new Hono<AppEnv>();
app.use("*", closePg);
// The public reads may be called from a tenant's own site (no credentials involved).
const publicRead = cors({ origin: "*", allowMethods: ["GET", "HEAD"], maxAge: 86_400 });
app.use("/v1/verify/*", publicRead);
app.use("/v1/branding/*", publicRead);
app.use("/v1/log/*", publicRead);
app.route("/", ingest);
app.route("/", verify);
app.route("/", log);
app.route("/", tenant);
app.route("/", ops);
app.notFound(notFoundHandler);
app.onError(onError);

export default {
  fetch: app.fetch,
  queue: (batch: MessageBatch<OutboxMessage>, env: Env, ctx: ExecutionContext) => consumeReceipts(batch, env, ctx),
  /** Keeps daily receipt partitions created a week ahead. */
  scheduled: async (_: ScheduledController, env: Env, ctx: ExecutionContext) => {
    await withPg(env, ctx, (pg) => pg.db.execute(sql`SELECT tillproof_ensure_receipt_partitions(7)`));
  },
} satisfies ExportedHandler<Env, OutboxMessage>;
