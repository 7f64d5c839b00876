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
import { breakerFor, type Db } from "../../db/client.ts";
import { controlPlaneLag } from "../../db/heartbeat.ts";
import { lotteryHoldsFrom } from "../../db/lottery.ts";
import { partitionHealth } from "../../db/partitions.ts";
import { quarantineSummary } from "../../db/quarantine.ts";
import { databasesOrPrimary } from "../../db/routing.ts";
import { webhookHealth } from "../../db/webhooks.ts";
import type { ShardStatus } from "../../durable-objects/shard.ts";
import { type Ctx, pg, pgAt } from "../http.ts";
import { router } from "../openapi.ts";
import { pendingDeadLetters } from "./dead-letters.ts";
import { statusRoute } from "./routes.ts";
import { shardReport } from "./shard-report.ts";

export type Status = Omit<StatusSnapshot, "shards"> & { shards: ShardStatus[] };

export async function gatherStatus(c: Ctx): Promise<Status> {
  // Per receipts database (DATABASE_URLS), added up; one that cannot answer leaves its figure unknown.
  // An unreadable routing table leaves the primary's figures, and says so.
  const { databases, problem: routing } = databasesOrPrimary(c.env);
  const dbs = databases.map((d) => pgAt(c, d).db);
  const each = <T>(read: (db: Db) => Promise<T>) =>
    Promise.all(dbs.map((db) => read(db))).catch((): T[] | null => null);
  const replicas = databases.slice(1).map((d) => ({ name: d.name, db: pgAt(c, d).db }));
  const [report, partitions, archive, deadLetters, webhooks, quarantine, controlPlane] = await Promise.all([
    shardReport(c),
    each(partitionHealth).then(
      (all) =>
        all && {
          defaultRows: all.reduce((n, p) => n + p.defaultRows, 0),
          futurePartitions: Math.min(...all.map((p) => p.futurePartitions)),
        },
    ),
    lotteryHoldsFrom(pg(c).db)
      .then((heldFrom) =>
        each((db) => archiveHealth(db, lastArchivableDay(config(c.env).HOT_DAYS, Date.now()), heldFrom)),
      )
      .catch(() => null)
      .then(
        (all) =>
          all && {
            failedDays: all.reduce((n, a) => n + a.failedDays, 0),
            overdueDays: all.reduce((n, a) => n + a.overdueDays, 0),
            heldDays: Math.max(...all.map((a) => a.heldDays)),
          },
      ),
    pendingDeadLetters(c.env.DEAD_LETTERS).catch(() => null),
    each(webhookHealth).then(
      (all) =>
        all && {
          pending: all.reduce((n, w) => n + w.pending, 0),
          oldestPendingSeconds: Math.max(...all.map((w) => w.oldestPendingSeconds)),
          failed: all.reduce((n, w) => n + w.failed, 0),
          held: all.reduce((n, w) => n + w.held, 0),
        },
    ),
    each(quarantineSummary).then(
      (all) =>
        all && {
          count: all.reduce((n, q) => n + q.count, 0),
          oldestAgeSeconds: all.reduce<number | null>(
            (m, q) => (q.oldestAgeSeconds === null ? m : Math.max(m ?? 0, q.oldestAgeSeconds)),
            null,
          ),
        },
    ),
    controlPlaneLag(pg(c).db, replicas).then(
      (lag) => lag && { lagSeconds: Math.round(lag.seconds), database: lag.database },
      () => null,
    ),
  ]);
  const now = Date.now();
  return {
    postgres: report.postgres,
    breakerOpen: databases.some((d) => breakerFor(d.url).state(now) !== "closed"),
    routing,
    deadLetters,
    partitions,
    archive,
    webhooks,
    quarantine,
    controlPlane,
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
