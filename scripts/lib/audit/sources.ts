/** Where the audit reads from: Postgres (rows in counter order, a page at a time) and the public log API. */
import type pg from "pg";
import { shardCodeRange, V1_MAX_SHARDS } from "../../../core/code.ts";
import type { TileReader } from "../../../core/log-proofs.ts";
import { HASH_SIZE, type Hash } from "../../../core/merkle.ts";
import { openNote, parseCheckpoint, parseVerifierKey } from "../../../core/note.ts";
import { TILE_WIDTH, tileIndexPath, unpackHashes } from "../../../core/tiles.ts";
import { type RecordRow, recordColumns } from "../../../db/receipts.ts";

const PAGE = 5_000;

/**
 * A shard's rows in counter order: its 16-character codes, then its
 * 20-character ones (a shard switches layout once, so every v1 counter comes
 * before every v2 counter), each in code order, which within one shard and
 * layout is counter order. Keyset pages: no OFFSET, no cursor held open.
 */
export async function* shardRows(pool: pg.Pool, shard: number): AsyncGenerator<RecordRow> {
  for (const format of [1, 2] as const) {
    if (format === 1 && shard >= V1_MAX_SHARDS) continue;
    const { lo, hi } = shardCodeRange(shard, format);
    let after = "";
    for (;;) {
      const { rows } = await pool.query<RecordRow>(
        `SELECT ${recordColumns()} FROM receipts
          WHERE code >= $1 AND code < $2 AND code > $3 AND length(code) = $4
          ORDER BY code, received_at LIMIT ${PAGE}`,
        [lo, hi, after, format === 1 ? 16 : 20],
      );
      yield* rows;
      if (rows.length < PAGE) break;
      after = rows.at(-1)?.code ?? after;
    }
  }
}

/** Shards that have stores (and so may have receipts). */
export async function shardsInUse(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ shard: number }>("SELECT DISTINCT shard FROM stores ORDER BY shard");
  return rows.map((r) => r.shard);
}

async function get(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok && res.status !== 404) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return res;
}

export function logApi(base: string) {
  return {
    verifierKey: async () => (await (await get(`${base}/v1/log/key`)).text()).trim(),

    /** The shard's latest checkpoint, its signature checked; null if it has none. */
    async checkpoint(shard: number, vkey: string): Promise<{ size: number; root: Hash } | null> {
      const res = await get(`${base}/v1/log/${shard}/checkpoint`);
      if (res.status === 404) return null;
      const note = await res.text();
      const verifier = await parseVerifierKey(vkey);
      if (!verifier) throw new Error(`not a verifier key: ${vkey}`);
      const text = await openNote(note, verifier);
      const cp = text ? parseCheckpoint(text) : null;
      if (!cp) throw new Error(`shard ${shard}: the checkpoint is not signed by ${verifier.name}`);
      return cp;
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
