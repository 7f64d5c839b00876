/**
 * The archive (docs/archive.md): by hand through the operator route
 * (`npm run archive -- --day`), and daily from the cron for every day older
 * than HOT_DAYS, oldest first, as far as its time allows.
 */
import { ApiError, notFound } from "../../api/errors.ts";
import { lastArchivableDay } from "../../core/archive.ts";
import { config } from "../../core/config.ts";
import { allDatabases } from "../../core/db-routes.ts";
import { hotDaysUntil } from "../../db/archive.ts";
import { withPg } from "../../db/client.ts";
import { databasesOrPrimary, dbEnvOf, routesOf, withDatabases } from "../../db/routing.ts";
import { describeError } from "../../kit/describe-error.ts";
import type { Env } from "../env.ts";
import { pg, pgAt } from "../http.ts";
import { router } from "../openapi.ts";
import { logger } from "../request-context.ts";
import { type ArchiveReport, archiveDay, combineReports } from "./archive-day.ts";
import { archiveDayRoute, archiveObjectRoute } from "./routes.ts";

/** The daily cron's share of its 15 minutes. */
const CRON_BUDGET_MS = 10 * 60_000;

export const archive = router();

archive.openapi(archiveDayRoute, async (c) => {
  const { day } = c.req.valid("param");
  const newest = lastArchivableDay(config(c.env).HOT_DAYS, Date.now());
  if (day > newest) {
    throw new ApiError(
      409,
      "too_recent",
      `Days after ${newest} stay in Postgres (HOT_DAYS=${config(c.env).HOT_DAYS}).`,
    );
  }
  const deadline = Date.now() + config(c.env).ARCHIVE_CALL_MS;
  const databases = allDatabases(routesOf(c.env));
  const reports = [];
  for (const d of databases) {
    const report = await archiveDay(c.env, pgAt(c, d).db, day, deadline, { name: d.name, primary: pg(c).db });
    logArchive(report, d.name);
    reports.push({ database: d.name, ...report });
  }
  const [only] = reports;
  if (reports.length === 1 && only) {
    const { database: _, ...report } = only;
    return c.json(report, 200);
  }
  return c.json(combineReports(day, reports), 200);
});

archive.openapi(archiveObjectRoute, async (c) => {
  // A Range header is R2's own (bytes=a-b): the audit asks for the bytes Postgres says were written.
  const ranged = c.req.header("range") !== undefined;
  const object = await c.env.ARCHIVE.get(c.req.valid("query").key, ranged ? { range: c.req.raw.headers } : {});
  if (!object) throw notFound("Archive object");
  c.header("content-type", "application/vnd.apache.parquet");
  c.header("etag", object.httpEtag);
  // Read whole (a part is a few MB): a body that ends short fails here, as a 500, never as a cut 200.
  const bytes = await object.arrayBuffer();
  if (!ranged) return c.body(bytes, 200);
  const from = object.range && "offset" in object.range ? (object.range.offset ?? 0) : 0;
  c.header("content-range", `bytes ${from}-${from + bytes.byteLength - 1}/${object.size}`);
  return c.body(bytes, 206);
});

/** Every day past HOT_DAYS still in Postgres, oldest first, until the budget is spent: each database in turn. */
export async function archiveDueDays(env: Env, ctx: ExecutionContext): Promise<void> {
  const deadline = Date.now() + CRON_BUDGET_MS;
  const last = lastArchivableDay(config(env).HOT_DAYS, Date.now());
  await withDatabases(env, ctx, async (primary) => {
    for (const d of databasesOrPrimary(env).databases) {
      await withPg(dbEnvOf(env, d), ctx, async ({ db }) => {
        for (const day of await hotDaysUntil(db, last)) {
          if (Date.now() > deadline) break;
          const report = await archiveDay(env, db, day, deadline, { name: d.name, primary }).catch((e: unknown) => {
            logger.error({ msg: "archive failed", database: d.name, day, error: describeError(e) });
            return null;
          });
          if (report) logArchive(report, d.name);
          if (report?.state === "held") break; // every later day is held too
        }
      }).catch((e: unknown) => logger.error({ msg: "archive failed", database: d.name, error: describeError(e) }));
    }
  });
}

function logArchive(r: ArchiveReport, database: string): void {
  (r.state === "failed" ? logger.error : logger.info)({ msg: "archive", database, ...r });
}
