/**
 * The witness's decision driven as C2SP tlog-witness says, against a log the
 * test signs itself: every status, the cosignature a client can check, and
 * the atomic check-and-update.
 */
import { describe, expect, it } from "vitest";
import { cosignatureCount, cosignedAt, cosignerOf, cosignerVkey, parseCosignerVkey } from "../tlog/cosignature.ts";
import { memoryLog } from "../tlog/memory-log.ts";
import type { Hash } from "../tlog/merkle.ts";
import { formatCheckpoint, generateSigningKey, parseSigningKey, signNote } from "../tlog/note.ts";
import { formatAddCheckpoint, parseSizeBody, SIZE_CONTENT_TYPE } from "../tlog/witness-protocol.ts";
import { addCheckpoint, type Cosigned, type OriginState } from "./add-checkpoint.ts";

const ORIGIN = "example.test/log/7";

function memoryState(): OriginState & { stored: Cosigned | null } {
  const s = {
    stored: null as Cosigned | null,
    latest: () => s.stored,
    swap: (expected: number | null, next: Cosigned) => {
      if ((s.stored?.size ?? null) !== expected) return false;
      s.stored = next;
      return true;
    },
  };
  return s;
}

async function setup() {
  const log = await memoryLog("example.test/log", ORIGIN);
  const witnessKey = await generateSigningKey("witness.test/w1");
  const cosigner = await cosignerOf(await parseSigningKey(witnessKey.privateKey));
  const state = memoryState();
  const refused: number[] = [];
  const deps = {
    logs: [{ originPrefix: "example.test/log/", verifiers: [log.verifier] }],
    cosigner,
    state,
    now: () => 1_700_000_000,
    onMisbehaviour: (m: { status: number }) => refused.push(m.status),
  };
  const submit = async (oldSize: number, note: string, proof?: Hash[]) =>
    addCheckpoint(formatAddCheckpoint({ oldSize, proof: proof ?? log.proof(oldSize, log.size()), note }), deps);
  return { log, cosigner, state, refused, submit, deps };
}

describe("the witness's add-checkpoint", () => {
  it("cosigns a first checkpoint from size 0, then a consistent one, with a cosignature clients verify", async () => {
    const { log, cosigner, state, submit } = await setup();
    log.grow(300);
    const first = await log.note();
    const a = await submit(0, first);
    expect(a.status).toBe(200);
    expect(a.body).toMatch(/^— witness\.test\/w1 [A-Za-z0-9+/=]+\n$/);
    const vkey = (await parseCosignerVkey(cosignerVkey(cosigner)))!;
    expect(await cosignedAt(`${first}${a.body}`, vkey)).toBe(1_700_000_000);
    expect(state.stored?.size).toBe(300);

    log.grow(1000);
    const b = await submit(300, await log.note());
    expect(b.status).toBe(200);
    expect(await cosignatureCount(`${await log.note()}${b.body}`, [vkey])).toBe(1);
    expect(state.stored?.size).toBe(1300);
    // The same checkpoint again (old = size, no proof): cosigned again, nothing moves.
    const again = await submit(1300, await log.note());
    expect(again.status).toBe(200);
    // A cosignature on another checkpoint does not verify for this one.
    expect(await cosignedAt(`${first}${b.body}`, vkey)).toBeNull();
  });

  it("404 for an unknown origin, 403 without a trusted signature, 400 for old past the size or a malformed body", async () => {
    const { log, submit, deps } = await setup();
    log.grow(5);
    expect((await submit(0, await log.note(5, "elsewhere.test/log/1"))).status).toBe(404);
    const stranger = await memoryLog("example.test/log", ORIGIN);
    stranger.grow(5);
    expect((await submit(0, await stranger.note())).status).toBe(403);
    expect((await submit(6, await log.note(), [])).status).toBe(400);
    expect((await addCheckpoint("old 01\n\n", deps)).status).toBe(400);
    expect((await addCheckpoint(`old 0\nnot-base64\n\n${await log.note()}`, deps)).status).toBe(400);
    const tooLong = Array.from({ length: 64 }, () => `${"A".repeat(43)}=`).join("\n");
    expect((await addCheckpoint(`old 0\n${tooLong}\n\n${await log.note()}`, deps)).status).toBe(400);
  });

  it("409 with text/x.tlog.size when the old size is not the one it holds; the client retries from it", async () => {
    const { log, submit } = await setup();
    log.grow(10);
    expect((await submit(0, await log.note())).status).toBe(200);
    log.grow(10);
    const stale = await submit(0, await log.note());
    expect(stale.status).toBe(409);
    expect(stale.contentType).toBe(SIZE_CONTENT_TYPE);
    expect(parseSizeBody(stale.body)).toBe(10);
    expect((await submit(10, await log.note())).status).toBe(200);
  });

  it("422 for a proof that does not verify; 409 for the same size with another root (a split view)", async () => {
    const { log, submit, state, refused } = await setup();
    log.grow(40);
    expect((await submit(0, await log.note())).status).toBe(200);
    log.grow(20);
    const proof = log.proof(40, 60);
    proof[0] = new Uint8Array(32);
    expect((await submit(40, await log.note(), proof)).status).toBe(422);
    expect(state.stored?.size).toBe(40);

    // A fork: another tree of 40 leaves signed by the same key.
    const fork = await signNote(
      formatCheckpoint({ origin: ORIGIN, size: 40, root: new Uint8Array(32).fill(7) }),
      log.signer,
    );
    const split = await submit(40, fork, []);
    expect(split.status).toBe(409);
    expect(parseSizeBody(split.body)).toBe(40);
    expect(refused).toEqual([422, 409]);
    expect(state.stored?.size).toBe(40);
  });

  it("checks and updates atomically: a request that read a latest since replaced is answered 409, never rolls it back", async () => {
    const { log, deps, state } = await setup();
    log.grow(8);
    const note8 = await log.note();
    expect((await addCheckpoint(formatAddCheckpoint({ oldSize: 0, proof: [], note: note8 }), deps)).status).toBe(200);
    log.grow(8);
    const note16 = await log.note();
    const proof = log.proof(8, 16);
    // Another request moves the latest to 16 between this one's check and its update.
    const racing: OriginState = {
      latest: () => state.latest(),
      swap: (expected, next) => {
        state.stored = { ...next, size: 16, note: note16 };
        return state.swap(expected, next);
      },
    };
    const answer = await addCheckpoint(formatAddCheckpoint({ oldSize: 8, proof, note: note16 }), {
      ...deps,
      state: racing,
    });
    expect(answer.status).toBe(409);
    expect(state.stored?.size).toBe(16);
  });
});
