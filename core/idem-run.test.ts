import { describe, expect, it } from "vitest";
import {
  encodePage,
  findInPage,
  fingerprint,
  fingerprintBytes,
  fingerprints,
  fingerprintsFrom,
  type IdemEntry,
  keyHash,
  mayHold,
  toPages,
} from "./idem-run.ts";

const entry = (i: number): IdemEntry => ({
  keyHash: keyHash("t/s/term", `key-${i}`),
  bodyHash: `body-${i}`,
  counter: i + 1,
});

type Pages = ReturnType<typeof toPages>;
const encoded = new WeakMap<Pages, ReturnType<typeof encodePage>[]>();

/** The lookup a shard does: the last page whose first fingerprint is ≤ fp (pages encoded once, as stored). */
function lookup(pages: Pages, f: string): IdemEntry | null {
  const fp = fingerprint(f);
  let blobs = encoded.get(pages);
  if (!blobs) {
    blobs = pages.map((p) => encodePage(p.entries));
    encoded.set(pages, blobs);
  }
  const i = pages.findLastIndex((p) => p.first <= fp);
  const blob = blobs[i];
  return blob ? findInPage(blob, f) : null;
}

describe("idempotency runs", () => {
  it("finds every key of a run, and no key that is not in it", () => {
    const entries = Array.from({ length: 5_000 }, (_, i) => entry(i));
    const pages = toPages(entries, 1_000);
    expect(pages.length).toBe(5);
    const fps = fingerprints(pages);
    for (const e of entries) {
      expect(mayHold(fps, fingerprint(e.keyHash))).toBe(true);
      expect(lookup(pages, e.keyHash)).toEqual(e);
    }
    const stranger = keyHash("t/s/term", "never-sent");
    expect(lookup(pages, stranger)).toBeNull();
    // 5,000 real lookups: seconds on a busy 2-core machine, so not the default 5 s limit.
  }, 30_000);

  it("never splits one fingerprint across two pages", () => {
    // Three keys that share their first 32 bits, at a page boundary.
    const same = [
      "aaaaaaaa000000000000000000000001",
      "aaaaaaaa000000000000000000000002",
      "aaaaaaaa000000000000000000000003",
    ];
    const entries: IdemEntry[] = [
      { keyHash: "00000001000000000000000000000000", bodyHash: "x", counter: 1 },
      ...same.map((keyHash, i) => ({ keyHash, bodyHash: "y", counter: i + 2 })),
    ];
    const pages = toPages(entries, 2);
    for (const f of same) expect(lookup(pages, f)?.keyHash).toBe(f);
    expect(pages.filter((p) => p.entries.some((e) => e.keyHash.startsWith("aaaaaaaa"))).length).toBe(1);
  });

  it("tells keys of different terminals apart", () => {
    expect(keyHash("t/s/a", "k1")).not.toBe(keyHash("t/s/b", "k1"));
    expect(keyHash("t/s/a", "k1")).not.toBe(keyHash("t/s/a\nk", "1"));
  });

  it("stores fingerprints as bytes and reads them back, also from an unaligned blob", () => {
    const fps = fingerprints(toPages(Array.from({ length: 100 }, (_, i) => entry(i))));
    const bytes = fingerprintBytes(fps);
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    expect([...fingerprintsFrom(unaligned)]).toEqual([...fps]);
  });
});
