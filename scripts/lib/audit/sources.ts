/**
 * Where the audit reads from: Postgres (rows in counter order, a page at a
 * time), the archive (the objects of dropped days, through the operator's
 * route) and the public log API.
 */
import type pg from "pg";
import { type ArchivedReceipt, decodeRows } from "../../../core/archive.ts";
import {
  type CodeFormat,
  codeRoute,
  counterCodeRange,
  MAX_SHARDS,
  shardCodeRange,
  V1_MAX_SHARDS,
} from "../../../core/code.ts";
import type { ChainRecord } from "../../../core/receipt.ts";
import { type RecordRow, recordColumns, rowOfRecord } from "../../../db/receipts.ts";
import { sha256Hex } from "../../../kit/crypto.ts";
import { fromHex, HASH_SIZE, type Hash } from "../../../tlog/merkle.ts";
import { checkCheckpoint, type OpenedPins } from "../../../tlog/monitor.ts";
import type { Checkpoint } from "../../../tlog/note.ts";
import type { TileReader } from "../../../tlog/proofs.ts";
import { TILE_WIDTH, tileIndexPath, unpackHashes } from "../../../tlog/tiles.ts";
import type { Problem } from "./shard-audit.ts";

const PAGE = 5_000;

/**
 * A shard's rows in counter order: its 16-character and its 20-character codes
 * merged by counter (each layout's rows come in code order, which within one
 * shard and layout is counter order). A shard switches layout once, so an
 * honest database has every v1 counter before every v2 one; merging keeps the
 * walk in order even when an inserted row breaks that.
 */
export async function* shardRows(
  pools: pg.Pool[],
  shard: number,
  archived?: AsyncGenerator<RecordRow>,
): AsyncGenerator<RecordRow> {
  // Several databases (DATABASE_URLS): a shard's days may sit in more than one; their rows merge the same way.
  const layouts = pools.flatMap((pool) =>
    ([1, 2] as const)
      .filter((format) => format === 2 || shard < V1_MAX_SHARDS)
      .map((format) => layoutRows(pool, shard, format)),
  );
  if (archived) layouts.push(archived);
  const heads = await Promise.all(layouts.map((it) => it.next()));
  const counterOf = (r: IteratorResult<RecordRow>) => (r.done ? Infinity : (codeRoute(r.value.code)?.counter ?? 0));
  for (;;) {
    let pick = -1;
    for (const [i, head] of heads.entries()) {
      if (!head.done && (pick < 0 || counterOf(head) < counterOf(heads[pick] as IteratorResult<RecordRow>))) pick = i;
    }
    if (pick < 0) return;
    const head = heads[pick] as IteratorYieldResult<RecordRow>;
    yield head.value;
    heads[pick] = await (layouts[pick] as AsyncGenerator<RecordRow>).next();
  }
}

/** One layout's rows of a shard in code order. Keyset pages on the whole primary key: no OFFSET, no row skipped. */
async function* layoutRows(pool: pg.Pool, shard: number, format: CodeFormat): AsyncGenerator<RecordRow> {
  const range = rangeSql(shard, format);
  let after: [string, string] = ["", "-infinity"];
  for (;;) {
    const { rows } = await pool.query<RecordRow & { received_at: string }>(
      `SELECT ${recordColumns()}, received_at::text AS received_at FROM receipts
        WHERE ${range.where} AND (code, received_at) > ($${range.params.length + 1}, $${range.params.length + 2}::timestamptz)
        ORDER BY code, received_at LIMIT ${PAGE}`,
      [...range.params, ...after],
    );
    yield* rows;
    if (rows.length < PAGE) return;
    const last = rows.at(-1);
    if (last) after = [last.code, last.received_at];
  }
}

/** An archived object of a day whose partition was dropped (its rows are only in R2 now). */
export type ArchivedObject = {
  day: string;
  part: number;
  key: string;
  rows: number;
  bytes: number;
  sha256: string;
  firstCounter: number;
};

/** A shard's objects of dropped days (a day still in Postgres is read from there), those holding `counter` if given. */
const DROPPED_OBJECTS = `
  SELECT to_char(o.day, 'YYYY-MM-DD') AS day, o.part, o.key, o.rows, o.bytes::int AS bytes, o.sha256,
         o.first_counter::float8 AS "firstCounter"
    FROM archive_objects o JOIN archive_days d ON d.day = o.day AND d.state = 'dropped'
   WHERE o.shard = $1 AND ($2::int8 IS NULL OR $2 BETWEEN o.first_counter AND o.last_counter)
   ORDER BY o.first_counter`;

/**
 * A shard's objects of dropped days, in counter order, from every database
 * (each archives the days it held; counters grow with the days, and with the
 * parts within one).
 */
export async function archivedObjectsIn(pools: pg.Pool[], shard: number, counter?: number): Promise<ArchivedObject[]> {
  const all = await Promise.all(
    pools.map(async (pool) => (await pool.query<ArchivedObject>(DROPPED_OBJECTS, [shard, counter ?? null])).rows),
  );
  return inCounterOrder(all);
}

/**
 * Several databases' objects of one shard as one list in counter order. Not by
 * day and part: part numbers start again in each database, and a day split by
 * a layout's switch has objects in both.
 */
export function inCounterOrder(lists: ArchivedObject[][]): ArchivedObject[] {
  return lists.flat().sort((a, b) => a.firstCounter - b.firstCounter);
}

/**
 * The receipts of a shard's archived objects, in counter order, as rows. An
 * object that is gone, unreadable or not the bytes recorded when it was
 * written is a problem of its own; its receipts then count as missing (or,
 * where its rows still read, each is checked as any row is).
 */
export async function* archivedRows(
  objects: ArchivedObject[],
  read: (o: ArchivedObject) => Promise<Uint8Array | null>,
  problems: Problem[],
): AsyncGenerator<RecordRow> {
  for (const o of objects) {
    // An object R2 will not serve whole (after the route's retries) is listed, and the walk goes on.
    const bytes = await read(o).catch((e: Error) => e);
    if (!bytes || bytes instanceof Error) {
      const why = bytes ? `unreadable (${bytes.message.slice(0, 200)})` : "gone from R2";
      problems.push({ kind: "archive", code: o.key, detail: `${why}: its ${o.rows} receipt(s) cannot be read` });
      continue;
    }
    const unlike = objectUnlike(o, bytes);
    if (unlike) problems.push({ kind: "archive", code: o.key, detail: `not the bytes written: ${unlike}` });
    const receipts = await decodeRows(parquetFileOf(bytes)).catch((e: Error) => {
      problems.push({ kind: "archive", code: o.key, detail: `unreadable as Parquet: ${e.message}` });
      return [];
    });
    for (const r of receipts) yield rowOfRecord(r.record, r.hash);
  }
}

/** How an object's bytes differ from what Postgres recorded when it was written; null when they do not. */
export function objectUnlike(o: { bytes: number; sha256: string }, bytes: Uint8Array): string | null {
  if (bytes.byteLength !== o.bytes) return `it is ${bytes.byteLength} bytes, not the ${o.bytes} recorded`;
  if (sha256Hex(bytes) !== o.sha256) return "its SHA-256 differs from the one recorded";
  return null;
}

/**
 * An archived receipt by code, for the checks that follow a reference (a
 * refund's sale): its shard and counter name the object; the last few objects
 * read are kept. Null when no dropped day's object holds it.
 */
export function archiveLookup(
  pools: pg.Pool[],
  read: (o: ArchivedObject) => Promise<Uint8Array | null>,
): (code: string) => Promise<ChainRecord | null> {
  const kept = new Map<string, ArchivedReceipt[]>();
  return async (code) => {
    const route = codeRoute(code);
    if (!route) return null;
    for (const o of await archivedObjectsIn(pools, route.shard, route.counter)) {
      let receipts = kept.get(o.key);
      if (!receipts) {
        const bytes = await read(o);
        receipts = bytes ? await decodeRows(parquetFileOf(bytes)).catch(() => []) : [];
        if (kept.size >= 8) kept.delete(kept.keys().next().value as string);
        kept.set(o.key, receipts);
      }
      const found = receipts.find((r) => r.counter === route.counter && r.record.code === code);
      if (found) return found.record;
    }
    return null;
  };
}

/** Bytes read whole, as hyparquet reads a file. */
export const parquetFileOf = (bytes: Uint8Array) => ({
  byteLength: bytes.byteLength,
  slice: (start: number, end?: number) => bytes.slice(start, end).buffer,
});

/**
 * The SQL for one shard's codes of one layout. The last shard of a layout has
 * no upper bound: a sentinel such as "~" sorts before digits in some collations.
 */
function rangeSql(shard: number, format: CodeFormat): { where: string; params: unknown[] } {
  const { lo, hi } = shardCodeRange(shard, format);
  const length = format === 1 ? 16 : 20;
  return hi === "~"
    ? { where: "code >= $1 AND length(code) = $2", params: [lo, length] }
    : { where: "code >= $1 AND code < $2 AND length(code) = $3", params: [lo, hi, length] };
}

/**
 * Of these counters of a shard, the ones Postgres has a row for now, in
 * either layout (for receipts that were still on their way when first looked for).
 */
export async function countersPresent(pool: pg.Pool, shard: number, counters: number[]): Promise<Set<number>> {
  const found = new Set<number>();
  for (let i = 0; i < counters.length; i += 1_000) {
    const chunk = counters.slice(i, i + 1_000);
    const ranges = chunk.flatMap((counter) =>
      ([1, 2] as const)
        .filter((f) => f === 2 || shard < V1_MAX_SHARDS)
        .map((f) => ({ counter, ...counterCodeRange({ shard, counter }, f), length: f === 1 ? 16 : 20 })),
    );
    const { rows } = await pool.query<{ counter: number }>(
      `SELECT r.counter FROM unnest($1::int8[], $2::text[], $3::text[], $4::int[]) AS r(counter, lo, hi, len)
        WHERE EXISTS (SELECT 1 FROM receipts WHERE code >= r.lo AND code < r.hi AND length(code) = r.len)`,
      [ranges.map((r) => r.counter), ranges.map((r) => r.lo), ranges.map((r) => r.hi), ranges.map((r) => r.length)],
    );
    for (const r of rows) found.add(Number(r.counter));
  }
  return found;
}

/**
 * The shards at or past `shardCount` that codes in Postgres name, each once (one
 * index probe per shard found). A deployment that lowered SHARD_COUNT still has
 * its older stores there (a store never moves shard).
 */
export async function shardsNamedPast(
  pool: pg.Pool,
  shardCount: number,
): Promise<{ shards: number[]; undecodable: string[] }> {
  const found = new Set<number>();
  const undecodable: string[] = [];
  for (const format of [1, 2] as const) {
    const limit = format === 1 ? V1_MAX_SHARDS : MAX_SHARDS;
    if (shardCount >= limit) continue;
    // A cursor over codes: past a shard found, or past a code that names none (an insider's row).
    let after = { code: shardCodeRange(shardCount, format).lo, inclusive: true };
    for (;;) {
      const { rows } = await pool.query<{ code: string }>(
        `SELECT code FROM receipts WHERE code ${after.inclusive ? ">=" : ">"} $1 AND length(code) = $2 ORDER BY code LIMIT 1`,
        [after.code, format === 1 ? 16 : 20],
      );
      const code = rows[0]?.code;
      if (code === undefined) break;
      const shard = codeRoute(code)?.shard;
      if (shard === undefined) {
        if (undecodable.length < 100) undecodable.push(code);
        after = { code, inclusive: false };
        continue;
      }
      found.add(shard);
      if (shard + 1 >= limit) break;
      after = { code: shardCodeRange(shard + 1, format).lo, inclusive: true };
    }
  }
  return { shards: [...found].sort((a, b) => a - b), undecodable };
}

/** Up to `limit` codes in Postgres that name shard `n`, in either layout. */
export async function codesOfShard(pool: pg.Pool, n: number, limit = 100): Promise<string[]> {
  const out: string[] = [];
  for (const format of [1, 2] as const) {
    if (format === 1 && n >= V1_MAX_SHARDS) continue;
    const range = rangeSql(n, format);
    const { rows } = await pool.query<{ code: string }>(
      `SELECT code FROM receipts WHERE ${range.where} ORDER BY code LIMIT ${limit}`,
      range.params,
    );
    out.push(...rows.map((r) => r.code));
  }
  return out.slice(0, limit);
}

/** Whether Postgres has any row of the shard, and the counter of its first 20-character code (its switch). */
export async function shardFacts(
  pool: pg.Pool,
  shard: number,
): Promise<{ hasRows: boolean; hasV1: boolean; v2From: number | null }> {
  let hasV1 = false;
  let v2From: number | null = null;
  for (const format of [1, 2] as const) {
    if (format === 1 && shard >= V1_MAX_SHARDS) continue;
    const range = rangeSql(shard, format);
    const { rows } = await pool.query<{ code: string }>(
      `SELECT code FROM receipts WHERE ${range.where} ORDER BY code LIMIT 1`,
      range.params,
    );
    if (rows[0] && format === 1) hasV1 = true;
    if (rows[0] && format === 2) v2From = codeRoute(rows[0].code)?.counter ?? null;
  }
  return { hasRows: hasV1 || v2From !== null, hasV1, v2From };
}

/**
 * GETs a public log URL: with the operator's token when given (the service does
 * not rate-limit it), and otherwise waiting out 429s and 503s as Retry-After says.
 */
async function getWith(
  url: string,
  operatorToken: string | undefined,
  more: Record<string, string> = {},
): Promise<Response> {
  const headers: Record<string, string> = operatorToken ? { authorization: `Bearer ${operatorToken}`, ...more } : more;
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, { headers });
    if ((res.status === 429 || res.status === 503) && attempt < 8) {
      const wait = Math.min(30, Number(res.headers.get("retry-after")) || 1);
      await res.body?.cancel();
      await new Promise((ok) => setTimeout(ok, wait * 1000));
      continue;
    }
    if (!res.ok && res.status !== 404) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
    return res;
  }
}

/** The service's log and the operator's archive route. The operator token goes over https only, or to this machine. */
export function logApi(base: string, operatorToken?: string) {
  const { protocol, hostname } = new URL(base);
  if (operatorToken && protocol !== "https:" && !["127.0.0.1", "localhost", "[::1]"].includes(hostname)) {
    throw new Error("refusing to send the operator token over plain http to another machine; use https");
  }
  const get = (url: string, headers?: Record<string, string>) => getWith(url, operatorToken, headers);
  return {
    /** What the service says to pin (the audit pins only its origin when no policy file is given). */
    pins: async () =>
      (await (await get(`${base}/v1/log/witnesses`)).json()) as { log: { origin: string; vkey: string | null } },

    /**
     * The shard's latest checkpoint, checked against the pins (the log's key,
     * the exact origin, the witness quorum); null if it has none. Throws (and
     * the audit reports it) for anything that fails a check.
     */
    async checkpoint(shard: number, pins: OpenedPins): Promise<{ note: string; checkpoint: Checkpoint } | null> {
      const res = await get(`${base}/v1/log/${shard}/checkpoint`);
      if (res.status === 404) return null;
      const note = await res.text();
      const verdict = await checkCheckpoint(note, pins, `${pins.origin}/${shard}`);
      if (!verdict.ok) throw new Error(`the checkpoint is ${verdict.reason}`);
      return { note, checkpoint: verdict.checkpoint };
    },

    async consistency(shard: number, from: number, to: number): Promise<Hash[]> {
      const res = await get(`${base}/v1/log/${shard}/proof/consistency?from=${from}&to=${to}`);
      if (!res.ok) throw new Error(`GET consistency ${from}→${to}: ${res.status}`);
      const { consistency } = (await res.json()) as { consistency: string[] };
      return consistency.map(fromHex);
    },

    /**
     * The bytes an archived object was written with, by the size Postgres recorded (the operator's
     * route: needs the operator token); null when R2 has no such object. A shorter object gives
     * fewer bytes, or a refusal the caller lists as a problem.
     */
    async archiveObject(o: { key: string; bytes: number }): Promise<Uint8Array | null> {
      const res = await get(`${base}/v1/ops/archive/object?key=${encodeURIComponent(o.key)}`, {
        range: `bytes=0-${Math.max(0, o.bytes - 1)}`,
      });
      if (res.status === 404) return null;
      return new Uint8Array(await res.arrayBuffer());
    },

    tiles(shard: number): TileReader {
      return async (level, index, width) => {
        const suffix = width === TILE_WIDTH ? "" : `.p/${width}`;
        const res = await get(`${base}/v1/log/${shard}/tile/${level}/${tileIndexPath(index)}${suffix}`);
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (!res.ok || bytes.length !== width * HASH_SIZE)
          throw new Error(`shard ${shard}: tile ${level}/${index} unreadable`);
        return unpackHashes(bytes);
      };
    },
  };
}
