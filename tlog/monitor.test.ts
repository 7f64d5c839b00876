import { describe, expect, it } from "vitest";
import { cosign, cosignerOf, cosignerVkey } from "./cosignature.ts";
import { memoryLog } from "./memory-log.ts";
import { checkCheckpoint, checkGrowth, openPins } from "./monitor.ts";
import { generateSigningKey, parseCheckpoint, parseSigningKey, splitNote } from "./note.ts";

const ORIGIN = "example.test/log/3";

async function witness(name: string) {
  const cosigner = await cosignerOf(await parseSigningKey((await generateSigningKey(name)).privateKey));
  return {
    vkey: cosignerVkey(cosigner),
    cosign: async (note: string) => note + (await cosign(splitNote(note)?.text ?? "", cosigner, 1_800_000_000)),
  };
}

async function setup() {
  const log = await memoryLog("example.test/log", ORIGIN);
  const [a, b] = [await witness("w-a"), await witness("w-b")];
  const pins = await openPins({ log: { origin: "example.test/log", vkey: log.vkey }, witnesses: [a, b], quorum: 2 });
  return { log, a, b, pins };
}

const checkpointOf = (note: string) => parseCheckpoint(splitNote(note)?.text ?? "");

describe("checkCheckpoint", () => {
  it("takes a checkpoint the log signed for exactly this origin and the quorum cosigned", async () => {
    const { log, a, b, pins } = await setup();
    log.grow(5);
    const note = await b.cosign(await a.cosign(await log.note()));
    const verdict = await checkCheckpoint(note, pins, ORIGIN);
    expect(verdict).toMatchObject({ ok: true, cosigned: 2, checkpoint: { size: 5, origin: ORIGIN } });
  });

  it("refuses one short of the quorum, another origin, another log's key", async () => {
    const { log, a, pins } = await setup();
    log.grow(5);
    const once = await a.cosign(await log.note());
    expect(await checkCheckpoint(once, pins, ORIGIN)).toEqual({
      ok: false,
      reason: expect.stringMatching(/below the quorum of 2/),
    });
    expect((await checkCheckpoint(once, { ...pins, quorum: 1 }, `${ORIGIN}3`)).ok).toBe(false);
    const other = await memoryLog("example.test/log", ORIGIN);
    other.grow(5);
    expect(await checkCheckpoint(await other.note(), { ...pins, quorum: 0 }, ORIGIN)).toEqual({
      ok: false,
      reason: expect.stringMatching(/not a checkpoint signed by/),
    });
  });

  it("refuses pins with a quorum the witnesses cannot meet or a key of the wrong type", async () => {
    const { log, a } = await setup();
    await expect(openPins({ log: { origin: "o", vkey: log.vkey }, witnesses: [a], quorum: 2 })).rejects.toThrow(
      /quorum/,
    );
    await expect(
      openPins({ log: { origin: "o", vkey: log.vkey }, witnesses: [{ vkey: log.vkey }], quorum: 1 }),
    ).rejects.toThrow(/cosigner/);
    // One witness listed twice would meet a quorum of 2 alone.
    await expect(openPins({ log: { origin: "o", vkey: log.vkey }, witnesses: [a, a], quorum: 2 })).rejects.toThrow(
      /listed twice/,
    );
  });
});

describe("checkGrowth", () => {
  it("accepts a tree that extends the kept one, and the same tree again", async () => {
    const { log } = await setup();
    log.grow(7);
    const kept = checkpointOf(await log.note());
    log.grow(20);
    const next = checkpointOf(await log.note());
    expect(await checkGrowth(kept, next!, async (f, t) => log.proof(f, t))).toBeNull();
    expect(await checkGrowth(kept, kept!, async () => [])).toBeNull();
    expect(await checkGrowth(null, next!, async () => [])).toBeNull();
  });

  it("finds a fork, a split view, a shrunk tree and a proof that cannot be had", async () => {
    const { log } = await setup();
    log.grow(7);
    const kept = checkpointOf(await log.note())!;
    const fork = await memoryLog("example.test/log", ORIGIN);
    fork.grow(7, "forged ");
    const split = checkpointOf(await fork.note())!;
    expect(await checkGrowth(kept, split, async () => [])).toMatch(/split view/);
    fork.grow(9, "forged ");
    const forked = checkpointOf(await fork.note())!;
    expect(await checkGrowth(kept, forked, async (f, t) => fork.proof(f, t))).toMatch(/fork/);
    expect(await checkGrowth(kept, checkpointOf(await log.note(3))!, async () => [])).toMatch(/shrank/);
    log.grow(1);
    const next = checkpointOf(await log.note())!;
    expect(await checkGrowth(kept, next, async () => Promise.reject(new Error("404")))).toMatch(
      /no consistency proof.*404/,
    );
  });
});
