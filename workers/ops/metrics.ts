/**
 * GET /metrics (operator): Prometheus text of the status snapshot (status.ts).
 * Shard series come from the shards themselves, so an outage of Postgres shows
 * here while it happens.
 */
import { type Family, formatMetrics, type Sample } from "../../kit/prometheus.ts";
import { router } from "../openapi.ts";
import { metricsRoute } from "./routes.ts";
import { gatherStatus } from "./status.ts";

export const metrics = router();

metrics.openapi(metricsRoute, async (c) => {
  const status = await gatherStatus(c);
  const { partitions } = status;
  const deadLetters = status.deadLetters ?? Number.NaN;
  const stats = status.shards;
  const per = (pick: (s: (typeof stats)[number]) => number | null): Sample[] =>
    stats.map((s) => ({ labels: { shard: s.shard }, value: pick(s) ?? Number.NaN }));
  const gauge = (name: string, help: string, samples: Sample[]): Family => ({ name, help, type: "gauge", samples });
  const counter = (name: string, help: string, samples: Sample[]): Family => ({ name, help, type: "counter", samples });
  const one = (value: number): Sample[] => [{ value }];
  const families: Family[] = [
    counter(
      "tillproof_receipts_issued_total",
      "Receipts the shard issued (its log's size).",
      per((s) => s.issued),
    ),
    counter(
      "tillproof_receipts_persisted_total",
      "Receipts Postgres confirmed to the shard.",
      per((s) => s.persisted),
    ),
    gauge(
      "tillproof_receipts_unpersisted",
      "Receipts the shard holds that Postgres has not confirmed.",
      per((s) => s.unpersisted),
    ),
    gauge(
      "tillproof_oldest_unpersisted_seconds",
      "Age of the oldest receipt Postgres has not confirmed (0 when none).",
      per((s) => (s.oldestUnpersistedAgeMs ?? 0) / 1000),
    ),
    gauge(
      "tillproof_code_space_used_ratio",
      "Share of the shard's code space used.",
      per((s) => s.codeSpaceUsed),
    ),
    gauge(
      "tillproof_log_tree_size",
      "Leaves in the shard's transparency log.",
      per((s) => s.logSize),
    ),
    gauge(
      "tillproof_checkpoint_age_seconds",
      "Age of the shard's latest signed checkpoint (NaN before the first).",
      per((s) => (s.checkpointAgeMs === null ? null : s.checkpointAgeMs / 1000)),
    ),
    gauge(
      "tillproof_unwitnessed_seconds",
      "How long the shard's latest signed checkpoint has waited for its witness quorum (0: witnessed).",
      per((s) => s.witnessing.unwitnessedMs / 1000),
    ),
    counter(
      "tillproof_witness_refusals_total",
      "Checkpoints a witness refused (422, 409 on equal sizes, 400, 403, 404): the log may have been rewritten.",
      stats.flatMap((s) =>
        s.witnessing.refusals.map((r) => ({
          labels: { witness: r.witness, shard: s.shard, status: r.status },
          value: r.count,
        })),
      ),
    ),
    counter(
      "tillproof_commits_total",
      "Group commits (ring rows written) since the object started.",
      per((s) => s.commits.batches),
    ),
    counter(
      "tillproof_offline_late_total",
      "Offline receipts registered more than OFFLINE_MAX_HOURS after their terminal signed them.",
      per((s) => s.offline.late),
    ),
    gauge(
      "tillproof_offline_gaps",
      "Offline receipts missing from their terminals' sequences (terminalSeq gaps).",
      per((s) => s.offline.gaps),
    ),
    gauge(
      "tillproof_offline_backlog",
      "Offline receipts terminals report holding unsent (Tillproof-Offline-Backlog).",
      per((s) => s.offline.backlog),
    ),
    gauge(
      "tillproof_offline_terminals_over_budget",
      "Terminals offline longer than OFFLINE_MAX_HOURS allows (an old backlog, or a late receipt within a day).",
      per((s) => s.offline.overBudget),
    ),
    gauge("tillproof_shard_up", "1 when the shard answered this scrape.", [
      ...stats.map((s) => ({ labels: { shard: s.shard }, value: 1 })),
      ...status.failedShards.map((n) => ({ labels: { shard: n }, value: 0 })),
    ]),
    gauge("tillproof_dead_letters", "Dead-lettered queue messages waiting for a replay.", one(deadLetters)),
    gauge(
      "tillproof_quarantined_receipts",
      "Receipts Postgres refused, kept with the reason in quarantined_receipts.",
      one(status.quarantine?.count ?? Number.NaN),
    ),
    gauge("tillproof_postgres_up", "1 when Postgres answered this scrape.", one(status.postgres === "ok" ? 1 : 0)),
    gauge(
      "tillproof_control_plane_lag_seconds",
      "How far the slowest receipts database's copy of stores, time zones and webhooks is behind the primary (DATABASE_URLS; 0 with one database).",
      status.controlPlane
        ? [{ labels: { database: status.controlPlane.database }, value: status.controlPlane.lagSeconds }]
        : one(0),
    ),
    gauge(
      "tillproof_postgres_breaker_open",
      "1 while this isolate's Postgres breaker is open.",
      one(status.breakerOpen ? 1 : 0),
    ),
    gauge(
      "tillproof_default_partition_rows",
      "Receipts in the DEFAULT partition (a day without its partition).",
      one(partitions?.defaultRows ?? Number.NaN),
    ),
    gauge(
      "tillproof_webhook_deliveries_pending",
      "Webhook deliveries still being retried.",
      one(status.webhooks?.pending ?? Number.NaN),
    ),
    gauge(
      "tillproof_webhook_oldest_pending_seconds",
      "Age of the oldest webhook delivery still being retried (0 when none).",
      one(status.webhooks?.oldestPendingSeconds ?? Number.NaN),
    ),
    gauge(
      "tillproof_webhook_deliveries_failed",
      "Webhook deliveries given up after 24 h (until a manual retry delivers them or their webhook is deleted).",
      one(status.webhooks?.failed ?? Number.NaN),
    ),
    gauge(
      "tillproof_webhook_deliveries_held",
      "Webhook deliveries held because their receipt failed its check against the signed log: never sent.",
      one(status.webhooks?.held ?? Number.NaN),
    ),
    gauge(
      "tillproof_archive_failed_days",
      "Days that failed their archive checks and stay in Postgres (docs/archive.md).",
      one(status.archive?.failedDays ?? Number.NaN),
    ),
    gauge(
      "tillproof_archive_overdue_days",
      "Days past HOT_DAYS still in Postgres a day after they were due.",
      one(status.archive?.overdueDays ?? Number.NaN),
    ),
    gauge(
      "tillproof_archive_held_days",
      "Days past HOT_DAYS kept in Postgres for a lottery draw whose winners are not kept yet.",
      one(status.archive?.heldDays ?? Number.NaN),
    ),
    gauge(
      "tillproof_future_partitions",
      "Daily receipt partitions that exist ahead of today.",
      one(partitions?.futurePartitions ?? Number.NaN),
    ),
  ];
  return c.body(formatMetrics(families), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
});
