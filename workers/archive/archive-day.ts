/**
 * Archiving one day (#27, docs/archive.md): every shard's receipts of the day
 * to R2 as Parquet, a manifest, then the whole archive read back and checked
 * (each object's SHA-256, its row count, every record against its hash and its
 * shard's signed log, the day's total against Postgres), and only then the
 * day's partition dropped. Idempotent and resumable: objects are recorded in
 * Postgres as they are written, a rerun goes on after the last one, and a
 * rewritten object has the same bytes. A day that fails a check stays in
 * Postgres, marked failed (an alert); the next run writes it again from
 * Postgres and checks it again.
 */
import { counterGaps, decodeRows, encodeObject, manifestKey, manifestOf, objectKey } from "../../core/archive.ts";
import { type CodeFormat, codeRoute } from "../../core/code.ts";
import { config } from "../../core/config.ts";
import { PRIMARY } from "../../core/db-routes.ts";
import {
  checkedObjects,
  type DayState,
  dayIsHot,
  dayObjects,
  dayRowCount,
  dayState,
  dropArchivedDay,
  markObjectChecked,
  type ObjectRow,
  recordObject,
  restartFailedDay,
  setDayState,
  shardCountersHeld,
  shardDayPage,
  shardsWithStores,
} from "../../db/archive.ts";
import type { Db } from "../../db/client.ts";
import { lotteryHoldsFrom } from "../../db/lottery.ts";
import { sha256Hex } from "../../kit/crypto.ts";
import { describeError } from "../../kit/describe-error.ts";
import type { Env } from "../env.ts";
import { logViews, recordProblem } from "../shared/record-check.ts";

export type ArchiveReport = {
  day: string;
  /**
   * `absent`: the day has no partition and was never archived (nothing to do).
   * `held`: a lottery draw still needs the day's tickets in Postgres (until its winners are kept).
   */
  state: DayState | "absent" | "held";
  rows: number;
  objects: number;
  /** Objects this run wrote (0 on a rerun of a finished day). */
  written: number;
  /** Rows whose partition this run dropped. */
  dropped: number;
  detail: string | null;
};

type Run = { env: Env; db: Db; day: string; deadline: number; database: string };

/** Which database `db` is (its manifest's name), and the primary, which keeps the lottery's draws. */
export type ArchiveTarget = { name: string; primary: Db };

/**
 * Archives `day` of the database `db` as far as `deadline` (epoch ms) allows;
 * call again to resume. Each receipts database archives its own shards' rows
 * (for one UTC day a shard is in one database, so object keys never collide).
 */
export async function archiveDay(
  env: Env,
  db: Db,
  day: string,
  deadline: number,
  target: ArchiveTarget = { name: PRIMARY, primary: db },
): Promise<ArchiveReport> {
  const run: Run = { env, db, day, deadline, database: target.name };
  const before = await dayState(db, day);
  const report = (state: ArchiveReport["state"], more: Partial<ArchiveReport> = {}): ArchiveReport => ({
    day,
    state,
    rows: 0,
    objects: 0,
    written: 0,
    dropped: 0,
    detail: null,
    ...more,
  });
  if (before?.state === "dropped") {
    const objects = await dayObjects(db, day);
    return report("dropped", { objects: objects.length, rows: objects.reduce((n, o) => n + o.rows, 0) });
  }
  // A draw finds its winners through receipts' reversed-code index: its days stay until they are kept.
  const heldFrom = await lotteryHoldsFrom(target.primary);
  if (heldFrom !== null && day >= heldFrom) {
    return report("held", {
      detail: `a lottery draw open since ${heldFrom} has not kept its winners: its days stay in Postgres until it runs`,
    });
  }
  if (!before && !(await dayIsHot(db, day))) return report("absent");
  // A failed day is written again from Postgres as it is now (a row mended since, an object lost or edited);
  // one that failed for a gap, only once the missing receipts are there: rewriting a whole day on every run
  // for nothing would spend the cron's budget, and every later day would wait behind it.
  if (before?.state === "failed") {
    const objects = await dayObjects(db, day);
    const open = await openGap(run, objects);
    if (open)
      return report("failed", { rows: objects.reduce((n, o) => n + o.rows, 0), objects: objects.length, detail: open });
    await restartFailedDay(db, day);
  } else if (before?.state !== "verified") await setDayState(db, day, "writing", { detail: null });

  const { written, finished } = await writeObjects(run);
  if (!finished) return report("writing", { written, detail: "stopped at its deadline; the next run goes on" });
  const objects = await dayObjects(db, day);
  const rows = objects.reduce((n, o) => n + o.rows, 0);
  const manifest = JSON.stringify(manifestOf(day, objects), null, 1);
  const manifestSha256 = sha256Hex(manifest);
  await env.ARCHIVE.put(manifestKey(day, target.name), manifest, { httpMetadata: { contentType: "application/json" } });

  const check = await checkArchive(run, objects);
  if (check.problem) {
    return failed(run, report, { rows, objects: objects.length, written, detail: check.problem, manifestSha256 });
  }
  if (check.checked < objects.length) {
    return report("writing", {
      rows,
      objects: objects.length,
      written,
      detail: `read back and checked ${check.checked} of ${objects.length} objects; stopped at its deadline, the next run goes on`,
    });
  }
  await setDayState(db, day, "verified", { rows, manifestSha256 });
  try {
    const dropped = await dropArchivedDay(db, day);
    return report("dropped", { rows, objects: objects.length, written, dropped });
  } catch (e) {
    // The owner's function counted again under its lock and refused (a row arrived since the check).
    const detail = `the partition was not dropped: ${describeError(e)}`;
    return failed(run, report, { rows, objects: objects.length, written, detail });
  }
}

/**
 * Marks the day failed, unless another run (the cron beside a run by hand)
 * dropped it meanwhile: then its partition is gone because it was archived,
 * and the day is reported dropped (setDayState never moves a dropped day back).
 */
async function failed(
  run: Run,
  report: (state: ArchiveReport["state"], more?: Partial<ArchiveReport>) => ArchiveReport,
  more: { rows: number; objects: number; written: number; detail: string; manifestSha256?: string },
): Promise<ArchiveReport> {
  const { detail, manifestSha256, ...counts } = more;
  await setDayState(run.db, run.day, "failed", {
    detail,
    rows: more.rows,
    ...(manifestSha256 ? { manifestSha256 } : {}),
  });
  if ((await dayState(run.db, run.day))?.state === "dropped") return report("dropped", counts);
  return report("failed", { ...counts, detail });
}

/** Writes what is not written yet, one part at least; how many, and whether the deadline came first. */
async function writeObjects(run: Run): Promise<{ written: number; finished: boolean }> {
  const done = await dayObjects(run.db, run.day);
  const partRows = config(run.env).ARCHIVE_PART_ROWS;
  let written = 0;
  for (const shard of await shardsWithStores(run.db)) {
    const mine = done.filter((o) => o.shard === shard);
    const last = mine.at(-1);
    let part = last ? last.part + 1 : 0;
    // Codes of the older layout (16 characters) first, then the current one: a resumed run starts where the last part ended.
    const resumeFormat: CodeFormat = last && last.lastCode.length === 20 ? 2 : 1;
    for (const format of [1, 2] as const) {
      if (format < resumeFormat) continue;
      let after = last && format === resumeFormat ? last.lastCode : null;
      for (;;) {
        // At least one part a call: a resumed run always gets further.
        if (written > 0 && Date.now() > run.deadline) return { written, finished: false };
        const page = await shardDayPage(run.db, { day: run.day, shard, format, after, limit: partRows });
        if (page.length === 0) break;
        const body = encodeObject(page);
        const sha256 = sha256Hex(new Uint8Array(body));
        const key = objectKey(run.day, shard, part, run.database);
        await run.env.ARCHIVE.put(key, body, { sha256, customMetadata: { rows: String(page.length) } });
        const counters = page.map((r) => r.counter);
        const lastCode = page[page.length - 1]?.code ?? "";
        await recordObject(run.db, {
          day: run.day,
          shard,
          part,
          key,
          rows: page.length,
          firstCounter: Math.min(...counters),
          lastCounter: Math.max(...counters),
          sha256,
          bytes: body.byteLength,
          lastCode,
        });
        written++;
        part++;
        after = lastCode;
        if (page.length < partRows) break;
      }
    }
  }
  return { written, finished: true };
}

/** The first gap of the day's objects that Postgres still does not fill, in words; null when none is left. */
async function openGap(run: Run, objects: ObjectRow[]): Promise<string | null> {
  for (const g of counterGaps(objects)) {
    const missing = g.last - g.first + 1 - (await shardCountersHeld(run.db, run.day, g));
    if (missing > 0) return gapDetail(g.shard, missing, g.first, g.last);
  }
  return null;
}

const gapDetail = (shard: number, missing: number, first: number, last: number, more = 0) =>
  `shard ${shard}: ${missing} of its counters ${first}–${last} are not in Postgres yet (still in the shard, or quarantined)${more ? `, and ${more} more shard(s)` : ""}: the day stays until they land`;

/**
 * Reads the archive back, as far as the deadline allows (one object at least;
 * each one checked is marked, so the next run goes on after it). The problem
 * is null when every object is there with its SHA-256 and row count, every
 * record hashes to its hash and is its shard's log leaf at its counter, and,
 * once all are checked, the rows add up to the day's rows in Postgres.
 */
async function checkArchive(run: Run, objects: ObjectRow[]): Promise<{ problem: string | null; checked: number }> {
  const gaps = counterGaps(objects);
  if (gaps.length) {
    const g = gaps[0] as (typeof gaps)[number];
    return { problem: gapDetail(g.shard, g.missing, g.first, g.last, gaps.length - 1), checked: 0 };
  }
  const done = await checkedObjects(run.db, run.day);
  const views = logViews(run.env);
  let checked = objects.filter((o) => done.has(o.key)).length;
  let thisCall = 0; // objects this call checked: one at least, then the deadline
  for (const o of objects) {
    if (done.has(o.key)) continue;
    if (thisCall > 0 && Date.now() > run.deadline) return { problem: null, checked };
    const problem = await checkObject(run, o, views);
    if (problem) return { problem, checked };
    await markObjectChecked(run.db, o);
    checked++;
    thisCall++;
  }
  const archived = objects.reduce((n, o) => n + o.rows, 0);
  const held = await dayRowCount(run.db, run.day);
  return {
    problem: held === archived ? null : `${held} receipts of the day in Postgres, ${archived} archived`,
    checked,
  };
}

/** One object read back: null when its bytes, its rows and every record check out. */
async function checkObject(run: Run, o: ObjectRow, views: ReturnType<typeof logViews>): Promise<string | null> {
  const got = await run.env.ARCHIVE.get(o.key);
  if (!got) return `${o.key} is missing from R2`;
  const body = await got.arrayBuffer();
  if (sha256Hex(new Uint8Array(body)) !== o.sha256) return `${o.key} does not match its SHA-256`;
  const rows = await decodeRows({ byteLength: body.byteLength, slice: (s, e) => body.slice(s, e) });
  if (rows.length !== o.rows) return `${o.key} holds ${rows.length} rows, not ${o.rows}`;
  for (const r of rows) {
    const route = codeRoute(r.record.code);
    if (route?.shard !== o.shard || route.counter !== r.counter)
      return `${o.key}: row ${r.counter} is not where its code says`;
    const problem = await recordProblem(run.env, r.record, r.hash, views);
    if (problem) return `${o.key}: receipt ${r.record.code}: ${problem}`;
  }
  return null;
}

/** The order a day's states take: the combined state of several databases is the earliest any is in. */
const STATE_ORDER: ArchiveReport["state"][] = ["failed", "held", "writing", "verified", "dropped", "absent"];

/** One report for a day archived in several databases: the sums, the least advanced state, each one's detail. */
export function combineReports(
  day: string,
  reports: (ArchiveReport & { database: string })[],
): ArchiveReport & { databases: (ArchiveReport & { database: string })[] } {
  const state = STATE_ORDER.find((s) => reports.some((r) => r.state === s)) ?? "absent";
  const sum = (k: "rows" | "objects" | "written" | "dropped") => reports.reduce((n, r) => n + r[k], 0);
  const details = reports.filter((r) => r.detail).map((r) => `${r.database}: ${r.detail}`);
  return {
    day,
    state,
    rows: sum("rows"),
    objects: sum("objects"),
    written: sum("written"),
    dropped: sum("dropped"),
    detail: details.length ? details.join("; ") : null,
    databases: reports,
  };
}
