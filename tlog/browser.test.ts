/** The browser copy of the checks, run in Node's WebCrypto against the TypeScript library's own answers. */
import { describe, expect, it } from "vitest";
import { BROWSER_TLOG } from "./browser.ts";
import { cosign, cosignerOf, cosignerVkey } from "./cosignature.ts";
import { memoryLog } from "./memory-log.ts";
import { consistencyRanges, type Hash, inclusionRanges, leafHash, rootOfLeafHashes, toHex } from "./merkle.ts";
import { generateSigningKey, parseSigningKey, splitNote } from "./note.ts";

type Key = { name: string; id: string };
type Pins = { log: Key; witnesses: Key[]; quorum: number };
const lib = new Function(
  `${BROWSER_TLOG}; return { keyOf, checkpointOf, inclusionOk, consistencyOk, checkpointCheck };`,
)() as {
  keyOf: (vkey: string, type: number) => Promise<Key>;
  checkpointOf: (note: string) => { origin: string; size: number; root: Uint8Array } | null;
  inclusionOk: (hash: string, index: number, size: number, proof: string[], root: Uint8Array) => Promise<boolean>;
  consistencyOk: (
    from: number,
    to: number,
    proof: string[],
    oldRoot: Uint8Array,
    newRoot: Uint8Array,
  ) => Promise<boolean>;
  checkpointCheck: (note: string, pins: Pins, origin: string) => Promise<{ size: number; cosigned: number }>;
};

const entries = Array.from({ length: 70 }, (_, i) => crypto.getRandomValues(new Uint8Array(32)).fill(i, 0, 1));
const leaves = entries.map(leafHash);
const rootAt = (n: number) => rootOfLeafHashes(leaves.slice(0, n));
const nodes = (ranges: { start: number; end: number }[]) =>
  ranges.map((r) => toHex(rootOfLeafHashes(leaves.slice(r.start, r.end))));

describe("the browser's Merkle checks", () => {
  it("accept every RFC 9162 inclusion proof and refuse a wrong index, a wrong leaf and an index past the tree", async () => {
    for (const size of [1, 2, 3, 7, 8, 9, 31, 70]) {
      for (let index = 0; index < size; index += 3) {
        const proof = nodes(inclusionRanges(index, size));
        const hash = toHex(entries[index] as Hash);
        expect(await lib.inclusionOk(hash, index, size, proof, rootAt(size))).toBe(true);
        if (size > 1) expect(await lib.inclusionOk(hash, (index + 1) % size, size, proof, rootAt(size))).toBe(false);
        expect(
          await lib.inclusionOk(toHex(crypto.getRandomValues(new Uint8Array(32))), index, size, proof, rootAt(size)),
        ).toBe(false);
      }
    }
    expect(await lib.inclusionOk(toHex(entries[0] as Hash), 1, 1, [], rootAt(1))).toBe(false);
  });

  it("accept every consistency proof and refuse one against another old root", async () => {
    for (const [from, to] of [
      [1, 2],
      [3, 7],
      [4, 8],
      [5, 70],
      [64, 70],
      [7, 7],
    ] as const) {
      const proof = from === to ? [] : nodes(consistencyRanges(from, to));
      expect(await lib.consistencyOk(from, to, proof, rootAt(from), rootAt(to))).toBe(true);
      expect(await lib.consistencyOk(from, to, proof, rootAt(from - 1 || 2), rootAt(to))).toBe(false);
    }
  });
});

describe("the browser's kept tree", () => {
  it("reads back what it kept, and takes junk in storage for nothing kept rather than a fork", () => {
    const store = new Map<string, string>();
    const localStorage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
    };
    const kept = new Function("localStorage", `${BROWSER_TLOG}; return { keptTree, keepTree };`)(localStorage) as {
      keptTree: (slot: string) => { size: number; root: string } | null;
      keepTree: (slot: string, cp: { size: number; root: Uint8Array }) => void;
    };
    kept.keepTree("s", { size: 7, root: rootAt(7) });
    expect(kept.keptTree("s")).toEqual({ size: 7, root: toHex(rootAt(7)) });
    for (const junk of ["{", "[]", '{"size":"7","root":"00"}', `{"size":0,"root":"${"0".repeat(64)}"}`]) {
      store.set("s", junk);
      expect(kept.keptTree("s"), junk).toBeNull();
    }
  });
});

describe("the browser's note checks", () => {
  it("take a checkpoint the pinned log signed for the origin with the quorum's cosignatures, and say what fails", async () => {
    const log = await memoryLog("example.test/log", "example.test/log/5");
    log.grow(9);
    const w = await cosignerOf(await parseSigningKey((await generateSigningKey("w1")).privateKey));
    const plain = await log.note();
    const note = plain + (await cosign(splitNote(plain)?.text ?? "", w, 1_800_000_000));
    const pins = { log: await lib.keyOf(log.vkey, 1), witnesses: [await lib.keyOf(cosignerVkey(w), 4)], quorum: 1 };
    expect(lib.checkpointOf(note)).toMatchObject({ origin: "example.test/log/5", size: 9 });
    expect(await lib.checkpointCheck(note, pins, "example.test/log/5")).toMatchObject({ size: 9, cosigned: 1 });
    await expect(lib.checkpointCheck(plain, pins, "example.test/log/5")).rejects.toThrow(/cosigned by 0 .* 1 required/);
    // One witness pinned twice counts once: it cannot meet a quorum of 2 alone.
    const twice = { ...pins, witnesses: [pins.witnesses[0] as Key, pins.witnesses[0] as Key], quorum: 2 };
    await expect(lib.checkpointCheck(note, twice, "example.test/log/5")).rejects.toThrow(/cosigned by 1 .* 2 required/);
    await expect(lib.checkpointCheck(note, pins, "example.test/log/50")).rejects.toThrow(/another log's/);
    const other = await memoryLog("example.test/log", "example.test/log/5");
    await expect(
      lib.checkpointCheck(note, { ...pins, log: await lib.keyOf(other.vkey, 1) }, "example.test/log/5"),
    ).rejects.toThrow(/not signed/);
    await expect(lib.keyOf(log.vkey, 4)).rejects.toThrow(/type 4/);
    await expect(lib.keyOf(log.vkey.replace(/\+[0-9a-f]{8}\+/, "+00000000+"), 1)).rejects.toThrow(/key ID/);
  });
});
