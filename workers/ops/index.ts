/** Health and pipeline progress. */
import { sql } from "drizzle-orm";
import { THRESHOLDS } from "../../core/alerts.ts";
import { readConfig } from "../../core/config.ts";
import { allDatabases, RoutesInvalid } from "../../core/db-routes.ts";
import { controlPlaneLag } from "../../db/heartbeat.ts";
import { isRouted, routesOf } from "../../db/routing.ts";
import { describeError } from "../../kit/describe-error.ts";
import { witnessPolicyFor } from "../../tlog/signers.ts";
import { checkSecrets } from "../config-check.ts";
import { type Ctx, pg, pgAt } from "../http.ts";
import { router } from "../openapi.ts";
import { logger } from "../request-context.ts";
import { shardCount } from "../shards.ts";
import { healthRoute, pipelineRoute } from "./routes.ts";
import { shardReport } from "./shard-report.ts";

export const ops = router();

/**
 * Postgres's health as this isolate last saw it: a good answer is reused for
 * 5 s and a bad one for 1 s, so a flood of anonymous /healthz requests costs
 * Postgres at most one connection per isolate per few seconds. Keyed by the
 * database URL the check ran against.
 */
const HEALTH_OK_MS = 5_000;
const HEALTH_BAD_MS = 1_000;
let lastHealth: { url: string; at: number; postgres: string } | null = null;

async function postgresHealth(c: Ctx): Promise<string> {
  const now = Date.now();
  const last = lastHealth;
  if (
    last &&
    last.url === c.env.DATABASE_URL &&
    now - last.at < (last.postgres === "ok" ? HEALTH_OK_MS : HEALTH_BAD_MS)
  ) {
    return last.postgres;
  }
  const postgres = await pg(c)
    .db.execute(sql`SELECT 1`)
    .then(
      () => "ok",
      (e: unknown) => {
        logger.error({ msg: "healthz: postgres failed", error: describeError(e) });
        return "unreachable";
      },
    );
  lastHealth = { url: c.env.DATABASE_URL, at: now, postgres };
  return postgres;
}

let lastDatabases: { key: string; at: number; result: string } | null = null;

/**
 * The receipts databases beside the primary (DATABASE_URLS): "ok", or what is
 * wrong with the routing table, or which cannot be reached. Cached as postgres.
 */
async function databasesHealth(c: Ctx): Promise<string> {
  if (!isRouted(c.env)) return "ok";
  const now = Date.now();
  const key = c.env.DATABASE_URLS ?? "";
  const last = lastDatabases;
  if (last && last.key === key && now - last.at < (last.result === "ok" ? HEALTH_OK_MS : HEALTH_BAD_MS)) {
    return last.result;
  }
  let result: string;
  try {
    const others = allDatabases(routesOf(c.env)).slice(1);
    const down = (
      await Promise.all(
        others.map((d) =>
          pgAt(c, d)
            .db.execute(sql`SELECT 1`)
            .then(
              () => null,
              (e: unknown) => {
                logger.error({ msg: "healthz: receipts database failed", database: d.name, error: describeError(e) });
                return d.name;
              },
            ),
        ),
      )
    ).filter((n): n is string => n !== null);
    const lag = down.length
      ? null
      : await controlPlaneLag(
          pg(c).db,
          others.map((d) => ({ name: d.name, db: pgAt(c, d).db })),
        ).catch(() => null);
    result = down.length
      ? `unreachable: ${down.join(", ")}`
      : lag && lag.seconds > THRESHOLDS.controlPlaneLagSeconds
        ? `${lag.database}'s copy of the control plane is ${Math.round(lag.seconds)} s behind the primary`
        : "ok";
  } catch (e) {
    result = e instanceof RoutesInvalid ? e.message : "DATABASE_URLS cannot be read";
  }
  lastDatabases = { key, at: now, result };
  return result;
}

ops.openapi(healthRoute, async (c) => {
  const [postgres, databases] = await Promise.all([postgresHealth(c), databasesHealth(c)]);
  const { codeKey, logKey, terminalCertKey } = await checkSecrets(c.env);
  const { problems, config } = readConfig(c.env);
  const witnesses = await witnessPolicyFor(config.WITNESSES, config.WITNESS_QUORUM).then(
    () => "ok",
    (e: Error) => `${e.message}: no checkpoint is witnessed or served`,
  );
  const checks = {
    postgres,
    // Only where DATABASE_URLS is set: one database's answer keeps the shape it always had.
    ...(isRouted(c.env) ? { databases } : {}),
    codeKey,
    logKey,
    terminalCertKey,
    witnesses,
    config: problems.length ? problems.join("; ") : "ok",
  };
  // A release upgraded in place serves before its operator adds TERMINAL_CERT_KEY: reported, not fatal.
  const ok = Object.entries(checks).every(
    ([k, v]) => v === "ok" || (k === "terminalCertKey" && !c.env.TERMINAL_CERT_KEY),
  );
  if (!ok) c.header("Retry-After", "5");
  return c.json({ ok, checks }, ok ? 200 : 503);
});

/** Per shard: issued / enqueued / persisted and the age of the oldest receipt Postgres lacks (shard-report.ts). */
ops.openapi(pipelineRoute, async (c) => {
  const report = await shardReport(c);
  const { answered } = report;
  const sum = (k: "issued" | "enqueued" | "persisted" | "unpersisted" | "messagesSent") =>
    answered.reduce((t, s) => t + s[k], 0);
  return c.json(
    {
      shardCount: shardCount(c.env),
      postgres: report.postgres,
      totals: {
        issued: sum("issued"),
        enqueued: sum("enqueued"),
        persisted: sum("persisted"),
        unpersisted: sum("unpersisted"),
        messagesSent: sum("messagesSent"),
        oldestUnpersistedAgeMs: Math.max(0, ...answered.map((s) => s.oldestUnpersistedAgeMs ?? 0)),
      },
      shards: [...answered, ...report.failed.map((n) => ({ shard: n, error: "unreachable" }))].sort(
        (a, b) => a.shard - b.shard,
      ),
    },
    200,
  );
});
