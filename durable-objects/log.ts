/**
 * The shard's transparency log: an RFC 6962 tree over the hashes of the
 * receipts it issued, in issuance order (leaf i is counter i + 1).
 *
 * `append` runs inside the group commit's transaction, whose ring row carries
 * the log's head; the in-memory tree moves only once that transaction committed, so
 * a rolled-back receipt never reaches a checkpoint. `sign` waits for storage to
 * be durable before it signs, and full tiles wait in SQLite until R2 has them.
 */
import { edgeRoot, type Hash } from "../tlog/merkle.ts";
import { formatCheckpoint, noteSignatures, type Signer, signerLabel, signNote } from "../tlog/note.ts";
import type { TileReader } from "../tlog/proofs.ts";
import {
  appendLeaves,
  emptyLog,
  type LogState,
  packHashes,
  TILE_WIDTH,
  tileObjectKey,
  unpackHashes,
} from "../tlog/tiles.ts";
import type { LogHead, ShardTables } from "./tables.ts";

export type SignedCheckpoint = { size: number; note: string; signedAt: number };
export type TileBytes = { level: number; index: number; hashes: Uint8Array };

/**
 * What a reader needs of the log: its size, the latest signed checkpoint, the
 * latest witnessed one (what is served and proven against), and the unfilled tiles.
 */
export type LogView = {
  size: number;
  checkpoint: SignedCheckpoint | null;
  witnessed: SignedCheckpoint | null;
  tiles: TileBytes[];
};

const UPLOADS_PER_ALARM = 32;

export class ShardLog {
  private state: LogState;
  private lastReceivedAt_: number;
  private signed: SignedCheckpoint | null;
  /** Full tiles still waiting in SQLite for R2. */
  private waiting: number;
  /** Full tiles read back from R2 for consistency proofs (immutable). */
  private readonly fullTiles = new Map<string, Hash[]>();

  private readonly tables: ShardTables;

  constructor(tables: ShardTables) {
    this.tables = tables;
    // The newest batch holds the head; a shard from before the ring kept it in log_head.
    const fromRing = tables.newestBatchHead();
    const legacy = tables.logHead();
    const head = fromRing && (!legacy || fromRing.size >= legacy.size) ? fromRing : legacy;
    const partial: Hash[][] = [];
    for (const p of tables.logPartials()) partial[p.level] = unpackHashes(p.hashes);
    if (head) partial[0] = unpackHashes(new Uint8Array(head.tail));
    this.state = head ? { size: head.size, edge: unpackHashes(new Uint8Array(head.edge)), partial } : emptyLog();
    this.lastReceivedAt_ = head?.last_received_at ?? 0;
    const cp = tables.checkpoint();
    this.signed = cp ? { size: cp.size, note: cp.note, signedAt: cp.signed_at } : null;
    this.waiting = tables.pendingTileCount();
  }

  get tilesWaiting(): boolean {
    return this.waiting > 0;
  }

  get size(): number {
    return this.state.size;
  }

  get signedSize(): number {
    return this.signed?.size ?? 0;
  }

  /** The latest signed checkpoint (null: none yet). */
  get checkpoint(): SignedCheckpoint | null {
    return this.signed;
  }

  get signedAt(): number | null {
    return this.signed?.signedAt ?? null;
  }

  /** When the newest receipt was stamped (0: none yet). */
  get lastReceivedAt(): number {
    return this.lastReceivedAt_;
  }

  /** The time to stamp on the next receipt: never earlier than the last one, whatever the clock does. */
  clock(now: number): number {
    return Math.max(now, this.lastReceivedAt_);
  }

  /**
   * Appends receipt hashes (32 bytes each) inside the caller's transaction,
   * writing only what fills up (tiles). Returns the new head, for the caller
   * to store in the same transaction, and what to run once it committed.
   */
  append(entries: Uint8Array[], receivedAt: number): { head: LogHead; commit: () => void } {
    const { state, full } = appendLeaves(this.state, entries);
    for (const t of full) {
      this.tables.putPendingTile(t.level, t.index, packHashes(t.hashes));
      this.tables.putLogPartial(t.level + 1, packHashes(state.partial[t.level + 1] ?? []));
    }
    const head = {
      size: state.size,
      edge: packHashes(state.edge),
      tail: packHashes(state.partial[0] ?? []),
      lastReceivedAt: receivedAt,
    };
    const commit = () => {
      this.state = state;
      this.lastReceivedAt_ = receivedAt;
      this.waiting += full.length;
    };
    return { head, commit };
  }

  /** True when the tree has leaves no checkpoint covers yet. */
  get unsigned(): boolean {
    return this.state.size > this.signedSize;
  }

  /**
   * Whether the latest checkpoint carries exactly the configured keys'
   * signatures. After a key rotation an idle shard re-signs its tree at the same
   * size, so clients pinned to the new key (and none still trusting a dropped
   * one) can check it.
   */
  signedByAll(signers: Signer[]): boolean {
    if (!this.signed) return true;
    const want = signers.map(signerLabel).sort().join(" ");
    return noteSignatures(this.signed.note).sort().join(" ") === want;
  }

  /**
   * Signs a checkpoint of the tree as it is now, once storage confirms it is
   * durable. Returns the size signed, or null if there was nothing new.
   */
  async sign(signers: Signer[], origin: string, sync: () => Promise<void>, now: number): Promise<number | null> {
    const { size, edge } = this.state;
    const resign = size > 0 && size === this.signedSize && !this.signedByAll(signers);
    if (size <= this.signedSize && !resign) return null;
    await sync();
    const note = await signNote(formatCheckpoint({ origin, size, root: edgeRoot(edge) }), signers);
    if (size < this.signedSize || (size === this.signedSize && !resign)) return null; // a concurrent signer got further
    const signed = { size, note, signedAt: now };
    this.tables.putCheckpoint(signed);
    this.signed = signed;
    return size;
  }

  /** Moves full tiles to R2 (idempotent puts), oldest first. */
  async upload(bucket: Pick<R2Bucket, "put">, shard: number): Promise<void> {
    if (!this.waiting) return;
    for (const t of this.tables.pendingTiles(UPLOADS_PER_ALARM)) {
      await bucket.put(tileObjectKey(shard, t.level, t.index), t.hashes);
      this.tables.deletePendingTile(t.level, t.index);
    }
    this.waiting = this.tables.pendingTileCount();
  }

  view(): Omit<LogView, "witnessed"> {
    const tiles: TileBytes[] = [];
    this.state.partial.forEach((hashes, level) => {
      if (!hashes.length) return;
      const index = Math.floor(Math.floor(this.state.size / TILE_WIDTH ** level) / TILE_WIDTH);
      tiles.push({ level, index, hashes: packHashes(hashes) });
    });
    return { size: this.state.size, checkpoint: this.signed, tiles };
  }

  /**
   * Reads this tree's tiles: the unfilled ones from memory, full ones from
   * SQLite until R2 has them, then from R2 (the last few kept in memory).
   */
  reader(bucket: Pick<R2Bucket, "get">, shard: number): TileReader {
    return async (level, index, width) => {
      const partial = this.state.partial[level];
      const unfilled = Math.floor(Math.floor(this.state.size / TILE_WIDTH ** level) / TILE_WIDTH);
      if (partial && index === unfilled && partial.length >= width) return partial.slice(0, width);
      const key = tileObjectKey(shard, level, index);
      const pending = this.fullTiles.has(key) ? null : this.tables.pendingTile(level, index);
      let full = this.fullTiles.get(key) ?? (pending ? unpackHashes(pending) : null);
      if (!full) {
        const object = await bucket.get(key);
        if (!object) throw new Error(`log tile ${key} is neither here nor in R2`);
        full = unpackHashes(new Uint8Array(await object.arrayBuffer()));
        if (this.fullTiles.size >= 16) this.fullTiles.delete(this.fullTiles.keys().next().value as string);
        this.fullTiles.set(key, full);
      }
      return full.slice(0, width);
    };
  }

  /** A full tile not yet in R2. */
  pendingTile(level: number, index: number): Uint8Array | null {
    return this.tables.pendingTile(level, index);
  }
}
