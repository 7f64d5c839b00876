/**
 * Idempotency runs: a shard's idempotency keys, written every few minutes as a
 * sorted run of pages instead of one row per key (docs/scale.md §12). A run is
 * found again through a sorted array of 32-bit fingerprints held in memory,
 * then one page read confirms the full 128-bit key hash.
 *
 * Pure: the shard's storage glue is in durable-objects/idempotency.ts.
 */
import { sha256Hex } from "../kit/crypto.ts";

/** One remembered key: its 128-bit hash (hex), the request body's hash and the counter it was given. */
export type IdemEntry = { keyHash: string; bodyHash: string; counter: number };

/** A page as stored: the fingerprint of its first entry, and its entries sorted by `f`. */
export type IdemPage = { first: number; entries: IdemEntry[] };

export const PAGE_ENTRIES = 1_000;

/** The key's identity: the terminal (tenant/store/terminal) and the key it sent. */
export function keyHash(who: string, key: string): string {
  return sha256Hex(`${who}\n${key}`).slice(0, 32);
}

/** The first 32 bits of a key hash: what the in-memory filter holds. */
export const fingerprint = (f: string): number => Number.parseInt(f.slice(0, 8), 16);

/**
 * Sorts entries into pages of about PAGE_ENTRIES. Equal fingerprints never span
 * two pages, so "the last page whose first fingerprint is ≤ fp" holds every
 * entry with that fingerprint.
 */
export function toPages(entries: Iterable<IdemEntry>, pageEntries = PAGE_ENTRIES): IdemPage[] {
  const sorted = [...entries].sort((a, b) => (a.keyHash < b.keyHash ? -1 : a.keyHash > b.keyHash ? 1 : 0));
  const pages: IdemPage[] = [];
  let page: IdemEntry[] = [];
  for (const e of sorted) {
    const last = page.at(-1);
    if (page.length >= pageEntries && last && fingerprint(last.keyHash) !== fingerprint(e.keyHash)) {
      pages.push({ first: fingerprint(page[0]?.keyHash ?? "0"), entries: page });
      page = [];
    }
    page.push(e);
  }
  if (page.length) pages.push({ first: fingerprint(page[0]?.keyHash ?? "0"), entries: page });
  return pages;
}

/** The run's fingerprints, sorted: 4 bytes a key in memory and in storage. */
export function fingerprints(pages: IdemPage[]): Uint32Array {
  const out = new Uint32Array(pages.reduce((n, p) => n + p.entries.length, 0));
  let i = 0;
  for (const p of pages) for (const e of p.entries) out[i++] = fingerprint(e.keyHash);
  return out; // pages are sorted by f, so fingerprints are already in order
}

/** Whether the sorted array holds `fp` (binary search). */
export function mayHold(fps: Uint32Array, fp: number): boolean {
  let lo = 0;
  let hi = fps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = fps[mid] as number;
    if (v === fp) return true;
    if (v < fp) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

export const encodePage = (entries: IdemEntry[]): string =>
  JSON.stringify(entries.map((e) => [e.keyHash, e.bodyHash, e.counter]));

export function findInPage(page: string, keyHash: string): IdemEntry | null {
  for (const [k, bodyHash, counter] of JSON.parse(page) as [string, string, number][]) {
    if (k === keyHash) return { keyHash, bodyHash, counter };
  }
  return null;
}

export const fingerprintBytes = (fps: Uint32Array): Uint8Array =>
  new Uint8Array(fps.buffer, fps.byteOffset, fps.byteLength);

/** Copies: a blob read from SQLite may not be 4-byte aligned. */
export function fingerprintsFrom(bytes: ArrayBuffer | Uint8Array): Uint32Array {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const out = new Uint32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return out;
}
