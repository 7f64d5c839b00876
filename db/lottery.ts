/** Lottery draws in Postgres (migrations/0013), and the winners found by code suffix. */
import { sql } from "drizzle-orm";
import type { Boundary, DrawRules, Prize } from "../core/lottery.ts";
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

export type Winner = {
  code: string;
  prize: number;
  tenantId: string;
  storeId: string;
  total: number;
  currency: string;
  receivedAt: string;
};

/**
 * Eligible receipts whose code ends with a winning suffix, each once with its
 * smallest prize, by code. Each suffix is a range scan of the reversed-code
 * index within the draw's days (partitions by received_at), never a scan of
 * all receipts. `after`: the last code of the previous page.
 */
export async function winners(
  db: Db,
  d: Draw,
  winning: WinningNumbers,
  page: { limit: number; after?: string | undefined } | "count",
): Promise<{ rows: Winner[]; count: number }> {
  const suffixes = winning.flatMap((w) => w.suffixes.map((x) => ({ prize: w.prize, rs: [...x].reverse().join("") })));
  const matches = sql`
    SELECT DISTINCT ON (r.code) r.code, s.prize, r.tenant_id, r.store_id, r.total, r.currency,
           (extract(epoch from r.received_at) * 1000)::bigint AS received_ms
      FROM jsonb_to_recordset(${JSON.stringify(suffixes)}::jsonb) AS s(prize int, rs text)
      JOIN LATERAL (
        SELECT * FROM receipts r
         WHERE reverse(r.code) ~>=~ s.rs AND reverse(r.code) ~<~ (s.rs || '~')
           AND r.received_at >= ${d.opensAt}::timestamptz AND r.received_at < ${d.closesAt}::timestamptz
      ) r ON true
     WHERE coalesce(r.kind, 'sale') = 'sale'
       -- v1.2: a sale counts net of the refunds received before the close, and not at all once voided before the draw.
       AND r.total - coalesce((SELECT sum(f.total) FROM receipts f
                                WHERE f.refers_to = r.code AND f.kind = 'refund'
                                  AND f.received_at < ${d.closesAt}::timestamptz), 0) >= ${d.minTotal}
       AND NOT EXISTS (SELECT 1 FROM receipts v WHERE v.refers_to = r.code AND v.kind = 'void'
                          AND (v.received_at < ${d.result?.drawnAt ?? null}::timestamptz) IS NOT FALSE)
       AND (${d.currency}::text IS NULL OR r.currency = ${d.currency})
       AND (${d.tenants === null} OR r.tenant_id = ANY (${textArray(d.tenants)}))
     ORDER BY r.code, s.prize`;
  if (page === "count") {
    const { rows } = await db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM (${matches}) m`);
    return { rows: [], count: Number(rows[0]?.n ?? 0) };
  }
  const { rows } = await db.execute<Record<string, string>>(sql`
    SELECT * FROM (${matches}) m WHERE ${page.after ?? ""} = '' OR m.code > ${page.after ?? ""}
     ORDER BY m.code LIMIT ${page.limit}`);
  return {
    rows: rows.map((r) => ({
      code: String(r.code).trim(),
      prize: Number(r.prize),
      tenantId: String(r.tenant_id),
      storeId: String(r.store_id),
      total: Number(r.total),
      currency: String(r.currency),
      receivedAt: new Date(Number(r.received_ms)).toISOString(),
    })),
    count: rows.length,
  };
}
