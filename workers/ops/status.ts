/**
 * One snapshot of the service for the operator: the shards' own reports, the
 * Postgres breaker, the partitions and the dead letters. /metrics prints it
 * for Prometheus, /v1/ops/status gives it (with the alerts in plain words) to
 * the console at /ops.
 */
import { alertsFor, type StatusSnapshot } from "../../core/alerts.ts";
import { lastArchivableDay } from "../../core/archive.ts";
import { config } from "../../core/config.ts";
import { archiveHealth } from "../../db/archive.ts";
import { breakerFor } from "../../db/client.ts";
import { partitionHealth } from "../../db/partitions.ts";
import { quarantineSummary } from "../../db/quarantine.ts";
import { webhookHealth } from "../../db/webhooks.ts";
import type { ShardStatus } from "../../durable-objects/shard.ts";
import { type Ctx, pg } from "../http.ts";
import { router } from "../openapi.ts";
import { pendingDeadLetters } from "./dead-letters.ts";
import { statusRoute } from "./routes.ts";
import { shardReport } from "./shard-report.ts";

export type Status = Omit<StatusSnapshot, "shards"> & { shards: ShardStatus[] };

export async function gatherStatus(c: Ctx): Promise<Status> {
  const [report, partitions, archive, deadLetters, webhooks, quarantine] = await Promise.all([
    shardReport(c),
    partitionHealth(pg(c).db).catch(() => null),
    archiveHealth(pg(c).db, lastArchivableDay(config(c.env).HOT_DAYS, Date.now())).catch(() => null),
    pendingDeadLetters(c.env.DEAD_LETTERS).catch(() => null),
    webhookHealth(pg(c).db).catch(() => null),
    quarantineSummary(pg(c).db).catch(() => null),
  ]);
  return {
    postgres: report.postgres,
    breakerOpen: breakerFor(c.env.DATABASE_URL).state(Date.now()) !== "closed",
    deadLetters,
    partitions,
    archive,
    webhooks,
    quarantine,
    shards: report.answered,
    failedShards: report.failed,
  };
}

export const status = router();

status.openapi(statusRoute, async (c) => {
  const s = await gatherStatus(c);
  c.header("Cache-Control", "no-store");
  return c.json({ ...s, alerts: alertsFor(s), at: new Date().toISOString() }, 200);
});
