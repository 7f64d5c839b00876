/**
 * Audits one shard: walks its signed log tile by tile and its Postgres rows in
 * counter order at the same time, so memory stays at one tile and one chain
 * head per store whatever the shard's size.
 *
 * - The tiles must rebuild the signed root (else the log itself is inconsistent).
 * - Each row must hash to its hash, and its hash must be the leaf at its index.
 * - Each leaf must have its row (else the receipt is missing).
 * - Each store's chain must run 1, 2, 3 … with every prevHash the hash before it.
 */
import { canonicalHash } from "../../../core/canonical.ts";
import { codeRoute } from "../../../core/code.ts";
import { GENESIS_HASH } from "../../../core/receipt.ts";
import { type RecordRow, recordFromRow } from "../../../db/receipts.ts";
import { appendEdge, edgeRoot, fromHex, type Hash, leafHash, toHex } from "../../../tlog/merkle.ts";
import type { TileReader } from "../../../tlog/proofs.ts";
import { TILE_WIDTH, tileWidth } from "../../../tlog/tiles.ts";

export type Problem = {
  kind:
    | "altered"
    | "missing"
    | "not_in_log"
    | "bad_code"
    | "broken_link"
    | "seq_gap"
    | "out_of_order"
    | "duplicate"
    | "log_root"
    | "checkpoint"
    /** The log is not an extension of the checkpoint the last audit kept (`--state`). */
    | "fork"
    /** A refund or void that points to no sale of its tenant, or a sale given back more than it took. */
    | "refund"
    /** A day's analytics rollup that its receipts do not add up to (`--rollups`). */
    | "rollup"
    /** An archived object that is gone from R2, unreadable, or not the bytes recorded when it was written. */
    | "archive";
  /** The receipt's compact code, or `shard S entry I` when only the log knows it. */
  code: string;
  detail: string;
};

export type ShardAudit = { shard: number; signedSize: number; checked: number; unsigned: number; problems: Problem[] };

export type ShardAuditInput = {
  shard: number;
  signed: { size: number; root: Hash };
  /** The shard's rows in counter order (Postgres's and the archive's). */
  rows: AsyncIterable<RecordRow>;
  tiles: TileReader;
  /** The code of a leaf whose row is gone (null without CODE_KEY). */
  codeOf: (counter: number) => string | null;
  /** False for a code whose keyed check fails (given CODE_KEY); without it, every code passes. */
  codeIsGenuine: (code: string) => boolean;
  /** Rows received before this (epoch ms) must be in the signed log; later ones may be newer than it. */
  signedBefore: number;
  /**
   * Of the leaves found without a row, those that have one now: receipts that
   * were signed but still on their way to Postgres when the walk passed them.
   */
  recheck: (counters: number[]) => Promise<Set<number>>;
  progress?: (leavesDone: number) => void;
};

type Head = { seq: number; hash: string };

/** How many of a shard's newest missing leaves get a second look. */
const RECHECK_MAX = 10_000;

export async function auditShard(input: ShardAuditInput): Promise<ShardAudit> {
  const { shard, signed } = input;
  const problems: Problem[] = [];
  const heads = new Map<string, Head>();
  const rows = input.rows[Symbol.asyncIterator]();
  let next = await rows.next();
  let edge: Hash[] = [];
  let size = 0;
  let checked = 0;
  let unsigned = 0;
  let lastCounter = 0;

  const nameOf = (counter: number) => {
    const where = `shard ${shard} entry ${counter - 1}`;
    const code = input.codeOf(counter);
    return code ? `${code} (${where})` : where;
  };
  /** Leaves without a row, reported after a second look (see recheck). */
  const missing: number[] = [];

  const checkChain = (row: RecordRow, hash: string) => {
    const key = `${row.tenant_id}/${row.store_id}`;
    const seq = Number(row.seq);
    const head = heads.get(key) ?? { seq: 0, hash: GENESIS_HASH };
    if (seq <= head.seq) {
      problems.push({ kind: "out_of_order", code: row.code, detail: `${key} seq ${seq} after seq ${head.seq}` });
      return;
    }
    if (seq > head.seq + 1) {
      const gap = seq - head.seq - 1;
      problems.push({
        kind: "seq_gap",
        code: row.code,
        detail: `${key}: ${gap} receipt(s) before seq ${seq} are gone`,
      });
    } else if (row.prev_hash !== head.hash) {
      problems.push({
        kind: "broken_link",
        code: row.code,
        detail: `${key} seq ${seq} does not link to seq ${head.seq}`,
      });
    }
    heads.set(key, { seq, hash });
  };

  const checkRow = (row: RecordRow, leaf: Hash | null) => {
    checked++;
    if (!input.codeIsGenuine(row.code)) {
      problems.push({ kind: "bad_code", code: row.code, detail: "its code fails the keyed check: never issued" });
    }
    if (!leaf) {
      unsigned++;
      if (Number(row.received_ms) < input.signedBefore) {
        problems.push({ kind: "not_in_log", code: row.code, detail: "past the signed log, though received before it" });
      }
    }
    const recomputed = canonicalHash(recordFromRow(row));
    if (recomputed !== row.hash) {
      problems.push({ kind: "altered", code: row.code, detail: "the record no longer hashes to its hash" });
    } else if (leaf && toHex(leafHash(fromHex(row.hash))) !== toHex(leaf)) {
      problems.push({ kind: "altered", code: row.code, detail: "its hash is not the signed log's entry" });
    }
    checkChain(row, row.hash);
  };

  /** Rows up to and including `counter` (1-based), each matched with its leaf. */
  const consumeUpTo = async (counter: number, leafAt: (counter: number) => Hash | null) => {
    while (!next.done) {
      const row = next.value;
      const route = codeRoute(row.code);
      if (!route || route.shard !== shard) throw new Error(`row ${row.code} is not of shard ${shard}`);
      if (route.counter > counter) return;
      if (route.counter === lastCounter) {
        problems.push({ kind: "duplicate", code: row.code, detail: "stored more than once" });
      } else if (route.counter < lastCounter) {
        // Counters only grow along a shard (its codes of one layout come in counter order).
        problems.push({
          kind: "out_of_order",
          code: row.code,
          detail: `counter ${route.counter} after ${lastCounter}`,
        });
      } else {
        // Bounded by the signed size: a forged row far ahead must not make this loop run for ever.
        for (let c = lastCounter + 1; c <= Math.min(route.counter - 1, signed.size); c++) {
          missing.push(c);
        }
        checkRow(row, leafAt(route.counter));
        lastCounter = route.counter;
      }
      next = await rows.next();
    }
  };

  const tiles = Math.ceil(signed.size / TILE_WIDTH);
  for (let t = 0; t < tiles; t++) {
    const width = tileWidth(0, t, signed.size);
    const leaves = await input.tiles(0, t, width);
    for (const leaf of leaves) edge = appendEdge(edge, size++, leaf);
    const first = t * TILE_WIDTH;
    await consumeUpTo(first + width, (counter) => leaves[counter - 1 - first] ?? null);
    if (lastCounter < first + width) {
      for (let c = lastCounter + 1; c <= first + width; c++) {
        missing.push(c);
      }
      lastCounter = first + width;
    }
    input.progress?.(first + width);
  }
  if (signed.size && toHex(edgeRoot(edge)) !== toHex(signed.root)) {
    problems.push({
      kind: "log_root",
      code: `shard ${shard}`,
      detail: "the log's tiles do not rebuild the signed root",
    });
  }
  // Rows past the signed size: issued after the checkpoint, checked for content and chain only.
  await consumeUpTo(Number.MAX_SAFE_INTEGER, () => null);
  // The newest leaves may have been in flight (signed, not persisted yet): look at those once more.
  const tail = missing.slice(-RECHECK_MAX);
  const arrived = tail.length ? await input.recheck(tail) : new Set<number>();
  for (const c of missing) {
    if (!arrived.has(c))
      problems.push({
        kind: "missing",
        code: nameOf(c),
        detail: "in the signed log, in neither Postgres nor the archive",
      });
  }
  return { shard, signedSize: signed.size, checked, unsigned, problems };
}
