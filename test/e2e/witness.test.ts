/**
 * The shipped witness Worker (witness/, its own wrangler.toml) in workerd,
 * driven over HTTP as C2SP tlog-witness says by a log this test signs itself:
 * every status, the cosignature, the latest checkpoint per origin, the vkey.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalWitness, startWitness } from "../../scripts/lib/stack/witness.ts";
import { cosignedAt, parseCosignerVkey } from "../../tlog/cosignature.ts";
import { type MemoryLog, memoryLog } from "../../tlog/memory-log.ts";
import { formatCheckpoint, generateSigningKey, signNote } from "../../tlog/note.ts";
import { formatAddCheckpoint, SIZE_CONTENT_TYPE } from "../../tlog/witness-protocol.ts";

const ORIGIN = "other-log.test/tree/1";
let witness: LocalWitness;
let log: MemoryLog;

async function add(oldSize: number, note: string, proof = log.proof(oldSize, log.size())) {
  const res = await fetch(`${witness.url}/add-checkpoint`, {
    method: "POST",
    body: formatAddCheckpoint({ oldSize, proof, note }),
  });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}

beforeAll(async () => {
  log = await memoryLog("other-log.test", ORIGIN);
  witness = await startWitness({
    key: (await generateSigningKey("witness.test/e2e")).privateKey,
    logs: [{ originPrefix: "other-log.test/", vkey: log.vkey }],
  });
}, 60_000);
afterAll(() => witness?.dispose());

describe("the witness Worker", () => {
  it("serves its 0x04 cosigner vkey", async () => {
    const res = await fetch(`${witness.url}/vkey`);
    expect((await res.text()).trim()).toBe(witness.vkey);
    expect(await parseCosignerVkey(witness.vkey)).not.toBeNull(); // a 0x04 key whose ID matches
  });

  it("answers every add-checkpoint status, cosigns only consistent trees, and serves the latest per origin", async () => {
    const verifier = (await parseCosignerVkey(witness.vkey))!;
    expect((await fetch(`${witness.url}/checkpoint/${encodeURIComponent(ORIGIN)}`)).status).toBe(404);

    log.grow(257);
    const first = await add(0, await log.note());
    expect(first.status).toBe(200);
    expect(await cosignedAt(`${await log.note()}${first.body}`, verifier)).toBeGreaterThan(1_700_000_000);

    log.grow(100);
    const note = await log.note();
    const stale = await add(0, note);
    expect([stale.status, stale.type, stale.body]).toEqual([409, SIZE_CONTENT_TYPE, "257\n"]);
    expect((await add(300, note)).status).toBe(409);
    expect((await add(400, note, [])).status).toBe(400);
    const bad = log.proof(257, 357);
    bad[1] = new Uint8Array(32);
    expect((await add(257, note, bad)).status).toBe(422);
    expect((await add(0, await log.note(357, "unknown.test/log/1"))).status).toBe(404);
    const stranger = await memoryLog("other-log.test", ORIGIN);
    stranger.grow(5);
    expect((await add(0, await stranger.note(), [])).status).toBe(403);
    expect((await fetch(`${witness.url}/add-checkpoint`, { method: "POST", body: "old x\n\n" })).status).toBe(400);

    const ok = await add(257, note);
    expect(ok.status).toBe(200);
    // A split view: another root at the size it holds, signed by the log's own key.
    const fork = await signNote(formatCheckpoint({ origin: ORIGIN, size: 357, root: new Uint8Array(32) }), log.signer);
    expect((await add(357, fork, [])).status).toBe(409);

    const latest = await fetch(`${witness.url}/checkpoint/${encodeURIComponent(ORIGIN)}`);
    const text = await latest.text();
    expect(text.startsWith(formatCheckpoint({ origin: ORIGIN, size: 357, root: log.root() }))).toBe(true);
    expect(await cosignedAt(text, verifier)).not.toBeNull();
  });

  it("keeps each origin apart, and answers two concurrent submissions of one tree with one 200 and one 409", async () => {
    // The second origin under the same prefix and key as the first log.
    const origin = "other-log.test/tree/2";
    log.grow(3);
    const at = log.size();
    const a = add(0, await log.note(at, origin), []);
    const b = add(0, await log.note(at, origin), []);
    const statuses = [(await a).status, (await b).status].sort();
    expect(statuses).toEqual([200, 409]);
  });
});
