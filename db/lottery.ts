/** Lottery draws in Postgres (migrations/0013), and the winners found by code suffix. */
import { sql } from "drizzle-orm";
import {
  type Adjustment,
  type Boundary,
  type Candidate,
  type DrawRules,
  type Prize,
  settleWinners,
} from "../core/lottery.ts";
import type { Db } from "./client.ts";

export type WinningNumbers = { prize: number; name: string; suffixes: string[] }[];
export type DrawResult = {
  drawnAt: string;
  seed: string;
  shards: { shard: number; size: number; root: string }[];
  /** What proves each shard's cut; null for a draw run before they were published. */
  boundaries: Boundary[] | null;
  winning: WinningNumbers;
  winners: number;
};
export type Draw = {
  id: string;
  title: string;
  opensAt: string;
  closesAt: string;
  minTotal: number;
  currency: string | null;
  tenants: string[] | null;
  prizes: Prize[];
  commitment: string;
  /** Secret until the draw is run: never in an answer before. */
  reveal: Uint8Array;
  result: DrawResult | null;
};

type Row = {
  id: string;
  title: string;
  opens_ms: string;
  closes_ms: string;
  min_total: string;
  currency: string | null;
  tenants: string[] | null;
  prizes: Prize[];
  reveal: Uint8Array | string;
  commitment: string;
  drawn_ms: string | null;
  seed: string | null;
  shards: DrawResult["shards"] | null;
  boundaries: Boundary[] | null;
  winning: WinningNumbers | null;
  winners: string | null;
};

const COLUMNS = sql.raw(`id, title, (extract(epoch from opens_at) * 1000)::bigint AS opens_ms,
  (extract(epoch from closes_at) * 1000)::bigint AS closes_ms, min_total, currency, tenants, prizes,
  encode(reveal, 'hex') AS reveal, commitment, (extract(epoch from drawn_at) * 1000)::bigint AS drawn_ms,
  seed, shards, boundaries, winning, winners`);

const iso = (ms: string) => new Date(Number(ms)).toISOString();

/** A text[] parameter (drizzle would spread a JS array into a list), or NULL. */
const textArray = (xs: string[] | null) =>
  xs === null ? sql`NULL::text[]` : sql`ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(xs)}::jsonb))`;

function fromRow(r: Row): Draw {
  return {
    id: r.id,
    title: r.title,
    opensAt: iso(r.opens_ms),
    closesAt: iso(r.closes_ms),
    minTotal: Number(r.min_total),
    currency: r.currency,
    tenants: r.tenants,
    prizes: r.prizes,
    commitment: r.commitment,
    reveal: new Uint8Array(Buffer.from(String(r.reveal), "hex")),
    result:
      r.drawn_ms && r.seed && r.shards && r.winning
        ? {
            drawnAt: iso(r.drawn_ms),
            seed: r.seed,
            shards: r.shards,
            boundaries: r.boundaries,
            winning: r.winning,
            winners: Number(r.winners),
          }
        : null,
  };
}

/** The draw's eligibility rules in epoch milliseconds. */
export function rulesOf(d: Draw): DrawRules {
  return {
    opensAt: Date.parse(d.opensAt),
    closesAt: Date.parse(d.closesAt),
    minTotal: d.minTotal,
    currency: d.currency ?? undefined,
    tenants: d.tenants ?? undefined,
  };
}

/** Creates a draw; null if the id exists. */
export async function insertDraw(
  db: Db,
  d: Omit<Draw, "result" | "opensAt"> & { opensAt: string },
): Promise<Draw | null> {
  const { rows } = await db.execute<Row>(sql`
    INSERT INTO lottery_draws (id, title, opens_at, closes_at, min_total, currency, tenants, prizes, reveal, commitment)
    VALUES (${d.id}, ${d.title}, ${d.opensAt}, ${d.closesAt}, ${d.minTotal}, ${d.currency}, ${textArray(d.tenants)},
            ${JSON.stringify(d.prizes)}::jsonb, decode(${Buffer.from(d.reveal).toString("hex")}, 'hex'), ${d.commitment})
    ON CONFLICT (id) DO NOTHING
    RETURNING ${COLUMNS}`);
  return rows[0] ? fromRow(rows[0]) : null;
}

export async function findDraw(db: Db, id: string): Promise<Draw | null> {
  const { rows } = await db.execute<Row>(sql`SELECT ${COLUMNS} FROM lottery_draws WHERE id = ${id}`);
  return rows[0] ? fromRow(rows[0]) : null;
}

export async function listDraws(db: Db): Promise<Draw[]> {
  const { rows } = await db.execute<Row>(sql`SELECT ${COLUMNS} FROM lottery_draws ORDER BY closes_at DESC, id`);
  return rows.map(fromRow);
}

/** The draws a receipt takes part in (the same rules as core/lottery.ts isEligible, in SQL; `total` already net of refunds). */
export async function drawsFor(
  db: Db,
  r: { receivedAt: string; total: number; currency: string; tenantId: string },
): Promise<Draw[]> {
  const { rows } = await db.execute<Row>(sql`
    SELECT ${COLUMNS} FROM lottery_draws
     WHERE opens_at <= ${r.receivedAt}::timestamptz AND ${r.receivedAt}::timestamptz < closes_at
       AND min_total <= ${r.total}
       AND (currency IS NULL OR currency = ${r.currency})
       AND (tenants IS NULL OR ${r.tenantId} = ANY (tenants))
     ORDER BY closes_at, id`);
  return rows.map(fromRow);
}

/** Stores the result once; a second run (or a racing one) keeps the first. Returns the stored draw. */
export async function recordResult(db: Db, id: string, result: Omit<DrawResult, "drawnAt">): Promise<Draw | null> {
  await db.execute(sql`
    UPDATE lottery_draws SET drawn_at = now(), seed = ${result.seed}, shards = ${JSON.stringify(result.shards)}::jsonb,
           boundaries = ${JSON.stringify(result.boundaries)}::jsonb,
           winning = ${JSON.stringify(result.winning)}::jsonb, winners = ${result.winners}
     WHERE id = ${id} AND drawn_at IS NULL`);
  return findDraw(db, id);
}

export type Winner = Candidate;

/**
 * Eligible receipts whose code ends with a winning suffix, each once with its
 * smallest prize. Each suffix is a range scan of the reversed-code index
 * within the draw's days (partitions by received_at), never a scan of all
 * receipts; so it needs those days in Postgres (keepWinners). `settled`
 * false: before refunds, voids and the minimum (several databases settle them
 * in matchesAcross, as a refund may be in another database than its sale).
 */
function matchesOf(d: Draw, winning: WinningNumbers, settled = true) {
  const suffixes = winning.flatMap((w) => w.suffixes.map((x) => ({ prize: w.prize, rs: [...x].reverse().join("") })));
  return sql`
    SELECT DISTINCT ON (r.code) r.code, s.prize, r.tenant_id, r.store_id, r.total, r.currency, r.received_at
      FROM jsonb_to_recordset(${JSON.stringify(suffixes)}::jsonb) AS s(prize int, rs text)
      JOIN LATERAL (
        SELECT * FROM receipts r
         WHERE reverse(r.code) ~>=~ s.rs AND reverse(r.code) ~<~ (s.rs || '~')
           AND r.received_at >= ${d.opensAt}::timestamptz AND r.received_at < ${d.closesAt}::timestamptz
      ) r ON true
     WHERE coalesce(r.kind, 'sale') = 'sale'
       ${
         settled
           ? sql`-- v1.2: a sale counts net of the refunds received before the close, and not at all once voided before the draw.
       AND r.total - coalesce((SELECT sum(f.total) FROM receipts f
                                WHERE f.refers_to = r.code AND f.kind = 'refund'
                                  AND f.received_at < ${d.closesAt}::timestamptz), 0) >= ${d.minTotal}
       AND NOT EXISTS (SELECT 1 FROM receipts v WHERE v.refers_to = r.code AND v.kind = 'void'
                          AND (v.received_at < ${d.result?.drawnAt ?? null}::timestamptz) IS NOT FALSE)`
           : sql``
       }
       AND (${d.currency}::text IS NULL OR r.currency = ${d.currency})
       AND (${d.tenants === null} OR r.tenant_id = ANY (${textArray(d.tenants)}))
     ORDER BY r.code, s.prize`;
}

/**
 * The winners, by code, a page at a time, or their count: the list kept at
 * the run (keepWinners), or, for a draw not kept yet, found in receipts.
 * `after`: the last code of the previous page.
 */
export async function winners(
  db: Db,
  dbs: Db[],
  d: Draw,
  winning: WinningNumbers,
  page: { limit: number; after?: string | undefined } | "count",
): Promise<{ rows: Winner[]; count: number }> {
  const kept = d.result ? await keptWinners(db, d.id) : null;
  if (kept === null && dbs.length > 1) {
    const all = await matchesAcross(dbs, d, winning);
    if (page === "count") return { rows: [], count: all.length };
    const rows = all.filter((w) => !page.after || w.code > page.after).slice(0, page.limit);
    return { rows, count: rows.length };
  }
  const source = kept === null ? matchesOf(d, winning) : sql`SELECT * FROM lottery_winners WHERE draw_id = ${d.id}`;
  if (page === "count") {
    if (kept !== null) return { rows: [], count: kept };
    const { rows } = await db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM (${source}) m`);
    return { rows: [], count: Number(rows[0]?.n ?? 0) };
  }
  const { rows } = await db.execute<Record<string, string>>(sql`
    SELECT m.code, m.prize, m.tenant_id, m.store_id, m.total, m.currency,
           (extract(epoch from m.received_at) * 1000)::bigint AS received_ms
      FROM (${source}) m WHERE ${page.after ?? ""} = '' OR m.code > ${page.after ?? ""}
     ORDER BY m.code LIMIT ${page.limit}`);
  return { rows: rows.map(winnerOf), count: rows.length };
}

const winnerOf = (r: Record<string, string>): Winner => ({
  code: String(r.code).trim(),
  prize: Number(r.prize),
  tenantId: String(r.tenant_id),
  storeId: String(r.store_id),
  total: Number(r.total),
  currency: String(r.currency),
  receivedAt: new Date(Number(r.received_ms)).toISOString(),
});

/**
 * The winners over several receipts databases: each one's candidates, then
 * every database's refunds and voids of them (core/lottery.ts settleWinners).
 * The list passes through the Worker, so it must fit one invocation's memory
 * (a draw's winners, not its tickets: ≈ 100 B each).
 */
async function matchesAcross(dbs: Db[], d: Draw, winning: WinningNumbers): Promise<Winner[]> {
  const found = await Promise.all(
    dbs.map(async (db) => {
      const { rows } = await db.execute<Record<string, string>>(sql`
        SELECT m.code, m.prize, m.tenant_id, m.store_id, m.total, m.currency,
               (extract(epoch from m.received_at) * 1000)::bigint AS received_ms
          FROM (${matchesOf(d, winning, false)}) m`);
      return rows.map(winnerOf);
    }),
  );
  const candidates = found.flat();
  if (!candidates.length) return [];
  const codes = [...new Set(candidates.map((c) => c.code))];
  const adjustments = await Promise.all(
    dbs.map(async (db): Promise<Adjustment[]> => {
      const { rows } = await db.execute<{ code: string; refunded: string; voided: boolean }>(sql`
        SELECT refers_to AS code,
               coalesce(sum(total) FILTER (WHERE kind = 'refund' AND received_at < ${d.closesAt}::timestamptz), 0) AS refunded,
               coalesce(bool_or(kind = 'void' AND (received_at < ${d.result?.drawnAt ?? null}::timestamptz) IS NOT FALSE), false) AS voided
          FROM receipts WHERE refers_to = ANY (${textArray(codes)})
         GROUP BY refers_to`);
      return rows.map((r) => ({ code: String(r.code).trim(), refunded: Number(r.refunded), voided: r.voided }));
    }),
  );
  return settleWinners(candidates, adjustments.flat(), d.minTotal);
}

/** How many winners were kept for a draw; null if they were not kept (yet). */
async function keptWinners(db: Db, drawId: string): Promise<number | null> {
  const { rows } = await db.execute<{ winners: string }>(
    sql`SELECT winners FROM lottery_winners_kept WHERE draw_id = ${drawId}`,
  );
  return rows[0] ? Number(rows[0].winners) : null;
}

/**
 * Writes down a drawn draw's winners, once, while its days are in Postgres:
 * the list then survives the archive. Returns how many were kept.
 */
export async function keepWinners(db: Db, dbs: Db[], d: Draw & { result: DrawResult }): Promise<number> {
  // Kept already (a second run answered, or the cron): the list is final (migrations/0022).
  const kept = await keptWinners(db, d.id);
  if (kept !== null) return kept;
  // One database: the list never leaves Postgres. Several: gathered first, then written to the primary.
  const across = dbs.length > 1 ? await matchesAcross(dbs, d, d.result.winning) : null;
  const source = across
    ? sql`SELECT code, prize, "tenantId" AS tenant_id, "storeId" AS store_id, total, currency, "receivedAt" AS received_at
            FROM jsonb_to_recordset(${JSON.stringify(across)}::jsonb) AS w(code text, prize int, "tenantId" text,
                 "storeId" text, total bigint, currency text, "receivedAt" timestamptz)`
    : matchesOf(d, d.result.winning);
  return db.transaction(async (tx) => {
    await tx.execute(sql`
      INSERT INTO lottery_winners (draw_id, code, prize, tenant_id, store_id, total, currency, received_at)
      SELECT ${d.id}, code, prize, tenant_id, store_id, total, currency, received_at FROM (${source}) m
      ON CONFLICT DO NOTHING`);
    await tx.execute(sql`
      INSERT INTO lottery_winners_kept (draw_id, winners)
      SELECT ${d.id}, count(*) FROM lottery_winners WHERE draw_id = ${d.id}
      ON CONFLICT DO NOTHING`);
    return (await keptWinners(tx, d.id)) ?? 0;
  });
}

/** Drawn draws whose winners were not kept (run before this release, or their keeping failed). */
export async function drawsNotKept(db: Db): Promise<string[]> {
  const { rows } = await db.execute<{ id: string }>(sql`
    SELECT d.id FROM lottery_draws d
     WHERE d.drawn_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM lottery_winners_kept k WHERE k.draw_id = d.id)
     ORDER BY d.drawn_at`);
  return rows.map((r) => r.id);
}

/**
 * The first UTC day the lottery needs in Postgres: the open of the oldest draw
 * whose winners are not kept (null when none). The archive leaves that day
 * and every later one alone.
 */
const LOTTERY_HOLDS_FROM = sql`(
  SELECT min((d.opens_at AT TIME ZONE 'UTC')::date) FROM lottery_draws d
   WHERE NOT EXISTS (SELECT 1 FROM lottery_winners_kept k WHERE k.draw_id = d.id))`;

export async function lotteryHoldsFrom(db: Db): Promise<string | null> {
  const { rows } = await db.execute<{ day: string | null }>(
    sql`SELECT to_char(${LOTTERY_HOLDS_FROM}, 'YYYY-MM-DD') AS day`,
  );
  return rows[0]?.day ?? null;
}
