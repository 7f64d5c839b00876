/**
 * The operator's alerts in plain words, from one status snapshot: the same
 * conditions and thresholds as ops/alerts.yml (which Prometheus evaluates over
 * /metrics), for the console at /ops.
 */
export type ShardHealth = {
  shard: number;
  oldestUnpersistedAgeMs: number | null;
  codeSpaceUsed: number;
  /** Offline receipts (docs/offline.md): registered late, missing from sequences, held unsent, terminals past their budget. */
  offline?: { late: number; gaps: number; backlog: number; overBudget: number };
  /** v1.2: how long the latest checkpoint has waited for its witnesses, and their refusals (witnessing.ts). */
  witnessing?: {
    unwitnessedMs: number;
    refusals: { witness: string; status: number; count: number; size: number; at: number; detail: string }[];
  };
};

export type StatusSnapshot = {
  postgres: "ok" | "unreachable";
  breakerOpen: boolean;
  deadLetters: number | null;
  partitions: { defaultRows: number; futurePartitions: number } | null;
  /** The archive (docs/archive.md): days that failed their checks, and days past HOT_DAYS a cron ago still in Postgres. */
  archive?: { failedDays: number; overdueDays: number; heldDays?: number } | null;
  /**
   * Webhook deliveries: still being retried (and the oldest's age), given up, and held because
   * their receipt failed its log check. Null: Postgres did not say.
   */
  webhooks: { pending: number; oldestPendingSeconds: number; failed: number; held: number } | null;
  /** Receipts Postgres refused, kept in quarantined_receipts. Null: Postgres did not say. */
  quarantine: { count: number; oldestAgeSeconds: number | null } | null;
  /**
   * Receipts databases (DATABASE_URLS): how far the slowest one's copy of the control plane
   * (stores, time zones, webhooks) is behind the primary's, and which. Null: one database, or unknown.
   */
  controlPlane?: { lagSeconds: number; database: string } | null;
  /** What is wrong with DATABASE_URLS, when it cannot be read (then the figures are the primary's alone). */
  routing?: string | null;
  shards: ShardHealth[];
  failedShards: number[];
};

export const THRESHOLDS = {
  lagSeconds: 60,
  codeSpace: 0.5,
  futurePartitions: 3,
  webhookPendingSeconds: 3_600,
  /** A receipts database's copy of the control plane this far behind: its replication has stopped. */
  controlPlaneLagSeconds: 300,
  /** A checkpoint waiting this long for its witness quorum: they are down, or refusing. */
  unwitnessedSeconds: 60,
  /** A witness's refusal stays an alert this long. */
  refusalSeconds: 86_400,
};

export function alertsFor(s: StatusSnapshot, now = Date.now()): string[] {
  const out: string[] = [];
  for (const x of s.shards) {
    for (const r of x.witnessing?.refusals ?? []) {
      if (now - r.at > THRESHOLDS.refusalSeconds * 1000) continue;
      out.push(
        `Witness ${r.witness} refused shard ${x.shard}'s checkpoint at size ${r.size} (${r.status}: ${r.detail}). The shard's log may have been rewritten: nothing it signed since is witnessed or served. Investigate before anything else.`,
      );
    }
    const waiting = (x.witnessing?.unwitnessedMs ?? 0) / 1000;
    if (waiting > THRESHOLDS.unwitnessedSeconds) {
      out.push(
        `Shard ${x.shard}'s latest checkpoint has waited ${Math.round(waiting)} s for its witnesses' quorum: new receipts verify with "witnessed": false.`,
      );
    }
  }
  if (s.postgres !== "ok") {
    out.push("Postgres does not answer. Receipts are still issued and held in the shards until it is back.");
  }
  if (s.breakerOpen) out.push("The Postgres circuit breaker is open: requests that need Postgres get 503 at once.");
  for (const n of s.failedShards) out.push(`Shard ${n} does not answer.`);
  const lagging = s.shards.filter((x) => (x.oldestUnpersistedAgeMs ?? 0) / 1000 > THRESHOLDS.lagSeconds);
  if (lagging.length) {
    const worst = Math.max(...lagging.map((x) => x.oldestUnpersistedAgeMs ?? 0)) / 1000;
    out.push(
      `${lagging.length} shard(s) hold receipts Postgres has not confirmed for over ${THRESHOLDS.lagSeconds} s (oldest ${Math.round(worst)} s).`,
    );
  }
  for (const x of s.shards) {
    if (x.codeSpaceUsed > THRESHOLDS.codeSpace) {
      out.push(`Shard ${x.shard} has used ${Math.round(x.codeSpaceUsed * 100)} % of its code space.`);
    }
  }
  const offline = (k: "gaps" | "overBudget") => s.shards.reduce((n, x) => n + (x.offline?.[k] ?? 0), 0);
  if (offline("overBudget")) {
    out.push(
      `${offline("overBudget")} terminal(s) have been offline longer than OFFLINE_MAX_HOURS allows (a backlog that old, or a late receipt in the last day): see "Offline terminals".`,
    );
  }
  if (offline("gaps")) {
    out.push(
      `${offline("gaps")} offline receipt(s) are missing from terminals' sequences (gaps): the terminal lost them, or has not sent them yet.`,
    );
  }
  if (s.deadLetters)
    out.push(`${s.deadLetters} dead-lettered message(s) wait for a replay (POST /v1/ops/dead-letters/replay).`);
  if (s.quarantine?.count) {
    out.push(
      `${s.quarantine.count} receipt(s) were refused by Postgres and quarantined (table quarantined_receipts, with the reason): they verify, but are missing from analytics until mended and re-inserted.`,
    );
  }
  if (s.partitions && s.partitions.defaultRows > 0) {
    out.push(`${s.partitions.defaultRows} receipt(s) landed in the DEFAULT partition: a day has no partition.`);
  }
  if (s.partitions && s.partitions.futurePartitions < THRESHOLDS.futurePartitions) {
    out.push(
      `Only ${s.partitions.futurePartitions} daily partition(s) exist ahead of today: the partition cron is failing.`,
    );
  }
  if (s.archive?.failedDays) {
    out.push(
      `${s.archive.failedDays} day(s) failed their archive checks and stay in Postgres: archive_days.detail says which check (docs/archive.md).`,
    );
  }
  if (s.archive?.overdueDays) {
    out.push(
      `${s.archive.overdueDays} day(s) older than HOT_DAYS are still in Postgres a day later: the archive cron is failing or behind.`,
    );
  }
  if (s.archive?.heldDays) {
    out.push(
      `${s.archive.heldDays} day(s) older than HOT_DAYS stay in Postgres for a lottery draw that has not kept its winners: they leave once it runs.`,
    );
  }
  if (s.routing) {
    out.push(
      `${s.routing}. Until it is fixed no receipt reaches Postgres (they wait in their shards) and verify answers 503; these figures are the primary's alone.`,
    );
  }
  if (s.controlPlane && s.controlPlane.lagSeconds > THRESHOLDS.controlPlaneLagSeconds) {
    out.push(
      `The receipts database ${s.controlPlane.database} has not received the primary's stores, time zones and webhooks for ${Math.round(s.controlPlane.lagSeconds / 60)} min: its subscription has stopped (see its Postgres log). New stores' analytics use UTC and new webhooks get no deliveries there until it resumes.`,
    );
  }
  if (s.webhooks && s.webhooks.oldestPendingSeconds > THRESHOLDS.webhookPendingSeconds) {
    out.push(
      `${s.webhooks.pending} webhook deliveries are being retried, the oldest for ${Math.round(s.webhooks.oldestPendingSeconds / 3_600)} h: a tenant's receiver is down or refusing them.`,
    );
  }
  if (s.webhooks?.held) {
    out.push(
      `${s.webhooks.held} webhook deliveries are held: their receipt in Postgres no longer matches its shard's signed log, so they were never sent (?status=held; npm run audit names the receipts).`,
    );
  }
  if (s.webhooks?.failed) {
    out.push(
      `${s.webhooks.failed} webhook deliveries were given up after 24 h: each tenant's delivery log lists them (?status=failed); a manual retry sends one again.`,
    );
  }
  return out;
}
