import { describe, expect, it } from "vitest";
import { alertsFor, type StatusSnapshot } from "./alerts.ts";

const healthy: StatusSnapshot = {
  postgres: "ok",
  breakerOpen: false,
  deadLetters: 0,
  partitions: { defaultRows: 0, futurePartitions: 7 },
  webhooks: { pending: 3, oldestPendingSeconds: 40, failed: 0, held: 0 },
  quarantine: { count: 0, oldestAgeSeconds: null },
  shards: [{ shard: 1, oldestUnpersistedAgeMs: 400, codeSpaceUsed: 0.01 }],
  failedShards: [],
};

describe("console alerts", () => {
  it("raises a witness's refusal of a checkpoint for a day, and a checkpoint left unwitnessed past a minute", () => {
    const now = Date.parse("2026-12-06T12:00:00Z");
    const refusal = {
      witness: "w1.example",
      status: 422,
      count: 1,
      size: 7,
      detail: "the consistency proof does not verify",
    };
    const at = (ago: number) => ({ ...refusal, at: now - ago });
    const alerts = alertsFor(
      {
        ...healthy,
        shards: [
          {
            shard: 2,
            oldestUnpersistedAgeMs: null,
            codeSpaceUsed: 0,
            witnessing: { unwitnessedMs: 0, refusals: [at(60_000)] },
          },
          {
            shard: 3,
            oldestUnpersistedAgeMs: null,
            codeSpaceUsed: 0,
            witnessing: { unwitnessedMs: 0, refusals: [at(2 * 86_400_000)] },
          },
          {
            shard: 4,
            oldestUnpersistedAgeMs: null,
            codeSpaceUsed: 0,
            witnessing: { unwitnessedMs: 90_000, refusals: [] },
          },
          {
            shard: 5,
            oldestUnpersistedAgeMs: null,
            codeSpaceUsed: 0,
            witnessing: { unwitnessedMs: 30_000, refusals: [] },
          },
        ],
      },
      now,
    );
    expect(alerts).toEqual([
      "Witness w1.example refused shard 2's checkpoint at size 7 (422: the consistency proof does not verify). The shard's log may have been rewritten: nothing it signed since is witnessed or served. Investigate before anything else.",
      "Shard 4's latest checkpoint has waited 90 s for its witnesses' quorum: new receipts verify with \"witnessed\": false.",
    ]);
  });

  it("says nothing when all is well", () => {
    expect(alertsFor(healthy)).toEqual([]);
  });

  it("names terminals offline past their budget and gaps in their sequences", () => {
    const offline = (overBudget: number, gaps: number) => ({ late: 1, gaps, backlog: 4, overBudget });
    const alerts = alertsFor({
      ...healthy,
      shards: [
        { shard: 1, oldestUnpersistedAgeMs: null, codeSpaceUsed: 0, offline: offline(1, 2) },
        { shard: 2, oldestUnpersistedAgeMs: null, codeSpaceUsed: 0, offline: offline(1, 0) },
      ],
    });
    expect(alerts).toEqual([
      '2 terminal(s) have been offline longer than OFFLINE_MAX_HOURS allows (a backlog that old, or a late receipt in the last day): see "Offline terminals".',
      "2 offline receipt(s) are missing from terminals' sequences (gaps): the terminal lost them, or has not sent them yet.",
    ]);
    expect(
      alertsFor({
        ...healthy,
        shards: [{ shard: 1, oldestUnpersistedAgeMs: null, codeSpaceUsed: 0, offline: offline(0, 0) }],
      }),
    ).toEqual([]);
  });

  it("names each problem in plain words, with the thresholds of ops/alerts.yml", () => {
    const alerts = alertsFor({
      postgres: "unreachable",
      breakerOpen: true,
      deadLetters: 2,
      partitions: { defaultRows: 5, futurePartitions: 2 },
      archive: { failedDays: 1, overdueDays: 3, heldDays: 2 },
      webhooks: { pending: 120, oldestPendingSeconds: 7_300, failed: 4, held: 2 },
      quarantine: { count: 3, oldestAgeSeconds: 50 },
      shards: [
        { shard: 1, oldestUnpersistedAgeMs: 90_000, codeSpaceUsed: 0.51 },
        { shard: 2, oldestUnpersistedAgeMs: 59_000, codeSpaceUsed: 0.5 },
      ],
      failedShards: [7],
    });
    expect(alerts).toEqual([
      "Postgres does not answer. Receipts are still issued and held in the shards until it is back.",
      "The Postgres circuit breaker is open: requests that need Postgres get 503 at once.",
      "Shard 7 does not answer.",
      "1 shard(s) hold receipts Postgres has not confirmed for over 60 s (oldest 90 s).",
      "Shard 1 has used 51 % of its code space.",
      "2 dead-lettered message(s) wait for a replay (POST /v1/ops/dead-letters/replay).",
      "3 receipt(s) were refused by Postgres and quarantined (table quarantined_receipts, with the reason): they verify, but are missing from analytics until mended and re-inserted.",
      "5 receipt(s) landed in the DEFAULT partition: a day has no partition.",
      "Only 2 daily partition(s) exist ahead of today: the partition cron is failing.",
      "1 day(s) failed their archive checks and stay in Postgres: archive_days.detail says which check (docs/archive.md).",
      "3 day(s) older than HOT_DAYS are still in Postgres a day later: the archive cron is failing or behind.",
      "2 day(s) older than HOT_DAYS stay in Postgres for a lottery draw that has not kept its winners: they leave once it runs.",
      "120 webhook deliveries are being retried, the oldest for 2 h: a tenant's receiver is down or refusing them.",
      "2 webhook deliveries are held: their receipt in Postgres no longer matches its shard's signed log, so they were never sent (?status=held; npm run audit names the receipts).",
      "4 webhook deliveries were given up after 24 h: each tenant's delivery log lists them (?status=failed); a manual retry sends one again.",
    ]);
  });
});

describe("a receipts database's copy of the control plane", () => {
  it("alerts past five minutes behind, naming the database, and not before", () => {
    expect(alertsFor({ ...healthy, controlPlane: { lagSeconds: 240, database: "r1" } })).toEqual([]);
    const [alert] = alertsFor({ ...healthy, controlPlane: { lagSeconds: 900, database: "r2" } });
    expect(alert).toMatch(/^The receipts database r2 has not received .* for 15 min/);
  });
});
