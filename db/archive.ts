/**
 * Where archived days went (migrations/0021): one row per Parquet object and
 * one per day, and the owner's function that drops a day once its archive
 * was checked. The objects themselves are R2's (workers/archive/).
 */
import { sql } from "drizzle-orm";
import type { ArchivedObject, ArchivedReceipt } from "../core/archive.ts";
import { type CodeFormat, codeRoute, counterCodeRange, shardCodeRange } from "../core/code.ts";
import type { Db } from "./client.ts";
import { type RecordRow, recordColumns, recordFromRow } from "./receipts.ts";

export type DayState = "writing" | "verified" | "dropped" | "failed";

/** The day's state, or null when no archive of it was started. */
export async function dayState(db: Db, day: string): Promise<{ state: DayState; detail: string | null } | null> {
  const { rows } = await db.execute<{ state: DayState; detail: string | null }>(
    sql`SELECT state, detail FROM archive_days WHERE day = ${day}::date`,
  );
  return rows[0] ?? null;
}

/** Records the day's state; a day once dropped stays dropped (a concurrent run's late verdict cannot undo it). */
export async function setDayState(
  db: Db,
  day: string,
  state: DayState,
  more: { detail?: string | null; rows?: number; manifestSha256?: string } = {},
): Promise<void> {
  await db.execute(sql`
    INSERT INTO archive_days (day, state, rows, manifest_sha256, detail)
    VALUES (${day}::date, ${state}, ${more.rows ?? null}, ${more.manifestSha256 ?? null}, ${more.detail ?? null})
    ON CONFLICT (day) DO UPDATE SET state = EXCLUDED.state, detail = EXCLUDED.detail, updated_at = now(),
      rows = coalesce(EXCLUDED.rows, archive_days.rows),
      manifest_sha256 = coalesce(EXCLUDED.manifest_sha256, archive_days.manifest_sha256)
    WHERE archive_days.state <> 'dropped'`);
}

/**
 * The last day whose rollups have archived receipts under them: the day after
 * the last one dropped (a store's day may straddle two UTC days); null when
 * none was. Rollups up to it cannot be recomputed from Postgres.
 */
export async function archivedThrough(db: Db): Promise<string | null> {
  const { rows } = await db.execute<{ through: string | null }>(
    sql`SELECT to_char(max(day) + 1, 'YYYY-MM-DD') AS through FROM archive_days WHERE state = 'dropped'`,
  );
  return rows[0]?.through ?? null;
}

/**
 * Which days were dropped, as one short mark (how many, and a digest of them):
 * a rebuild that read the archive compares it, so a day dropped meanwhile is
 * seen even when it is older than the newest one (a failed day mended later).
 */
export async function droppedDaysMark(db: Db): Promise<string> {
  const { rows } = await db.execute<{ mark: string }>(
    sql`SELECT count(*) || ':' || coalesce(md5(string_agg(day::text, ',' ORDER BY day)), '') AS mark
          FROM archive_days WHERE state = 'dropped'`,
  );
  return rows[0]?.mark ?? "0:";
}

/** Whether the day still has its partition in Postgres. */
export async function dayIsHot(db: Db, day: string): Promise<boolean> {
  const part = `receipts_${day.replaceAll("-", "")}`;
  const { rows } = await db.execute<{ hot: boolean }>(sql`SELECT to_regclass(${part}) IS NOT NULL AS hot`);
  return rows[0]?.hot === true;
}

/** The days that have a daily partition (`receipts_YYYYMMDD`), as a subquery with one column `day`. */
const PARTITION_DAYS = sql`(
  SELECT to_date(substr(c.relname, 10), 'YYYYMMDD') AS day
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
   WHERE i.inhparent = 'receipts'::regclass AND c.relname ~ '^receipts_[0-9]{8}$') AS partition_days`;

/** Days with a partition, oldest first, up to `until` (the archive's candidates). */
export async function hotDaysUntil(db: Db, until: string): Promise<string[]> {
  const { rows } = await db.execute<{ day: string }>(sql`
    SELECT to_char(day, 'YYYY-MM-DD') AS day FROM ${PARTITION_DAYS} WHERE day <= ${until}::date ORDER BY 1`);
  return rows.map((r) => r.day);
}

/**
 * Days that failed their checks; days before `lastArchivable` still in
 * Postgres (a cron ago, they were due) that no lottery draw holds; and those a
 * draw holds (docs/archive.md).
 */
export async function archiveHealth(
  db: Db,
  lastArchivable: string,
  /** The first day the lottery holds (the primary's lotteryHoldsFrom: a receipts database has no draws). */
  heldFrom: string | null,
): Promise<{ failedDays: number; overdueDays: number; heldDays: number }> {
  const { rows } = await db.execute<{ failed_days: number; overdue_days: number; held_days: number }>(sql`
    SELECT (SELECT count(*) FROM archive_days WHERE state = 'failed')::int AS failed_days,
           (SELECT count(*) FROM ${PARTITION_DAYS} WHERE day < ${lastArchivable}::date
               AND day < coalesce(${heldFrom}::date, 'infinity'))::int AS overdue_days,
           (SELECT count(*) FROM ${PARTITION_DAYS} WHERE day < ${lastArchivable}::date
               AND day >= ${heldFrom}::date)::int AS held_days`);
  return {
    failedDays: rows[0]?.failed_days ?? 0,
    overdueDays: rows[0]?.overdue_days ?? 0,
    heldDays: rows[0]?.held_days ?? 0,
  };
}

/** Shards that have stores (the only ones that can hold receipts). */
export async function shardsWithStores(db: Db): Promise<number[]> {
  const { rows } = await db.execute<{ shard: number }>(sql`SELECT DISTINCT shard FROM stores ORDER BY shard`);
  return rows.map((r) => Number(r.shard));
}

/** Receipts of a day in Postgres. */
export async function dayRowCount(db: Db, day: string): Promise<number> {
  const { rows } = await db.execute<{ n: string }>(sql`
    SELECT count(*) AS n FROM receipts
     WHERE received_at >= ${day}::date AND received_at < ${day}::date + 1`);
  return Number(rows[0]?.n ?? 0);
}

/**
 * A page of one shard's receipts of a day in one code layout, in code order
 * (counter order within a shard and layout), after code `after`.
 */
export async function shardDayPage(
  db: Db,
  page: { day: string; shard: number; format: CodeFormat; after: string | null; limit: number },
): Promise<(ArchivedReceipt & { code: string })[]> {
  const { lo, hi } = shardCodeRange(page.shard, page.format);
  const from = page.after ?? "";
  const { rows } = await db.execute<RecordRow>(sql`
    SELECT ${sql.raw(recordColumns())} FROM receipts
     WHERE received_at >= ${page.day}::date AND received_at < ${page.day}::date + 1
       AND code >= ${lo} AND code > ${from} AND length(code) = ${page.format === 1 ? 16 : 20}
       ${hi === "~" ? sql`` : sql`AND code < ${hi}`}
     ORDER BY code LIMIT ${page.limit}`);
  return rows.map((r) => ({
    code: r.code,
    counter: codeRoute(r.code)?.counter ?? 0,
    record: recordFromRow(r),
    hash: r.hash,
  }));
}

export type ObjectRow = ArchivedObject & { day: string; lastCode: string };

const OBJECT_COLUMNS = sql`to_char(day, 'YYYY-MM-DD') AS day, shard, part, key, rows, first_counter::float8 AS first_counter,
  last_counter::float8 AS last_counter, sha256, bytes::float8 AS bytes, last_code`;

type Raw = {
  day: string;
  shard: number;
  part: number;
  key: string;
  rows: number;
  first_counter: number;
  last_counter: number;
  sha256: string;
  bytes: number;
  last_code: string;
};

const fromRaw = (r: Raw): ObjectRow => ({
  day: r.day,
  shard: r.shard,
  part: r.part,
  key: r.key,
  rows: r.rows,
  firstCounter: r.first_counter,
  lastCounter: r.last_counter,
  sha256: r.sha256,
  bytes: r.bytes,
  lastCode: r.last_code,
});

/** The objects recorded for a day, by shard and part. */
export async function dayObjects(db: Db, day: string): Promise<ObjectRow[]> {
  const { rows } = await db.execute<Raw>(
    sql`SELECT ${OBJECT_COLUMNS} FROM archive_objects WHERE day = ${day}::date ORDER BY shard, part`,
  );
  return rows.map(fromRaw);
}

/** The objects of days dropped from Postgres, received on `since` or later (a rebuild's archived receipts). */
export async function droppedObjectsSince(db: Db, since: string): Promise<ObjectRow[]> {
  const { rows } = await db.execute<Raw>(sql`
    SELECT ${OBJECT_COLUMNS} FROM archive_objects o
     WHERE day >= ${since}::date AND EXISTS (SELECT 1 FROM archive_days d WHERE d.day = o.day AND d.state = 'dropped')
     ORDER BY day, shard, part`);
  return rows.map(fromRaw);
}

/** Records an object written to R2 (a rerun writes the same bytes, so the first row stands). */
export async function recordObject(db: Db, o: ObjectRow): Promise<void> {
  await db.execute(sql`
    INSERT INTO archive_objects (day, shard, part, key, rows, first_counter, last_counter, last_code, sha256, bytes)
    VALUES (${o.day}::date, ${o.shard}, ${o.part}, ${o.key}, ${o.rows}, ${o.firstCounter}, ${o.lastCounter},
            ${o.lastCode}, ${o.sha256}, ${o.bytes})
    ON CONFLICT DO NOTHING`);
}

/**
 * How many of a shard's counters first..last the day's partition holds now, in
 * either code layout (16 or 20 characters): an index range count, no scan of
 * the day.
 */
export async function shardCountersHeld(
  db: Db,
  day: string,
  g: { shard: number; first: number; last: number },
): Promise<number> {
  let held = 0;
  for (const format of [1, 2] as const) {
    const lo = counterCodeRange({ shard: g.shard, counter: g.first }, format).lo;
    const hi = counterCodeRange({ shard: g.shard, counter: g.last }, format).hi;
    const { rows } = await db.execute<{ n: string }>(sql`
      SELECT count(*) AS n FROM receipts
       WHERE code >= ${lo} AND code < ${hi} AND char_length(code) = ${lo.length}
         AND received_at >= ${day}::date AND received_at < ${day}::date + 1`);
    held += Number(rows[0]?.n ?? 0);
  }
  return held;
}

/** The keys of the day's objects already read back and checked (a resumed check skips them). */
export async function checkedObjects(db: Db, day: string): Promise<Set<string>> {
  const { rows } = await db.execute<{ key: string }>(
    sql`SELECT key FROM archive_objects WHERE day = ${day}::date AND checked_at IS NOT NULL`,
  );
  return new Set(rows.map((r) => r.key));
}

/** Marks the object checked: the one read, not a part written again meanwhile by a restarted day. */
export async function markObjectChecked(
  db: Db,
  o: Pick<ObjectRow, "day" | "shard" | "part" | "key" | "sha256">,
): Promise<void> {
  await db.execute(sql`
    UPDATE archive_objects SET checked_at = now()
     WHERE day = ${o.day}::date AND shard = ${o.shard} AND part = ${o.part} AND key = ${o.key} AND sha256 = ${o.sha256}`);
}

/** The archived objects that may hold a shard's counter (normally one), by index, no scan. */
export async function objectsForCounter(db: Db, shard: number, counter: number): Promise<ObjectRow[]> {
  const { rows } = await db.execute<Raw>(sql`
    SELECT ${OBJECT_COLUMNS} FROM archive_objects
     WHERE shard = ${shard} AND last_counter >= ${counter} AND first_counter <= ${counter}
     ORDER BY last_counter LIMIT 4`);
  return rows.map(fromRaw);
}

/** A failed day starts over: its object rows go (the owner's function checks it failed and is still in Postgres). */
export async function restartFailedDay(db: Db, day: string): Promise<void> {
  await db.execute(sql`SELECT tillproof_archive_restart(${day}::date)`);
}

/** Drops a verified day's partition (the owner's function checks the state and the counts). */
export async function dropArchivedDay(db: Db, day: string): Promise<number> {
  const { rows } = await db.execute<{ n: string }>(sql`SELECT tillproof_drop_archived_day(${day}::date) AS n`);
  return Number(rows[0]?.n ?? 0);
}
