/**
 * A shard and its witnesses: checkpoints are served only once the quorum
 * cosigned them, a witness that is down is asked again, a restarted shard
 * learns what a witness holds from its 409, and the review's attack (the
 * shard's storage rewritten, so the shard signs a forged tree itself) is
 * refused by the witness: no new witnessed checkpoint, and a refusal counted.
 * The witnesses are the shipped witness's own decision (witness/), over memory.
 */
import { describe, expect, it } from "vitest";
import { cosignatureCount, cosignerOf, cosignerVkey } from "../tlog/cosignature.ts";
import { generateSigningKey, parseSigningKey, parseVerifierKey, verifierKeyOf } from "../tlog/note.ts";
import { appendLeaves, emptyLog, packHashes } from "../tlog/tiles.ts";
import { parseWitnessPolicy } from "../tlog/witness-protocol.ts";
import { addCheckpoint, type Cosigned } from "../witness/add-checkpoint.ts";
import type { ShardDeps } from "./ports.ts";
import { config, issue, open, setUp, type World, world } from "./test-shards.ts";

type MemoryWitness = { name: string; entry: string; stored: Cosigned | null; down: boolean; calls: number };

async function witnessesFor(logVkey: string, names: string[]) {
  const logVerifier = (await parseVerifierKey(logVkey))!;
  const ws = await Promise.all(
    names.map(async (name) => {
      const cosigner = await cosignerOf(await parseSigningKey((await generateSigningKey(name)).privateKey));
      const w: MemoryWitness & { cosigner: typeof cosigner } = {
        name,
        entry: `${cosignerVkey(cosigner)}@https://${name}`,
        stored: null,
        down: false,
        calls: 0,
        cosigner,
      };
      return w;
    }),
  );
  const fetch: ShardDeps["witnessFetch"] = async (url, init) => {
    const w = ws.find((x) => url.startsWith(`https://${x.name}/`));
    if (!w) throw new Error(`no witness at ${url}`);
    w.calls++;
    if (w.down) throw new Error("connection refused");
    const answer = await addCheckpoint(String(init.body), {
      logs: [{ originPrefix: "unit.test/log/", verifiers: [logVerifier] }],
      cosigner: w.cosigner,
      now: () => 1_800_000_000,
      state: {
        latest: () => w.stored,
        swap: (expected, next) => {
          if ((w.stored?.size ?? null) !== expected) return false;
          w.stored = next;
          return true;
        },
      },
    });
    return new Response(answer.body, { status: answer.status, headers: { "content-type": answer.contentType } });
  };
  return { ws, fetch };
}

async function witnessedWorld(names: string[], quorum?: number) {
  const w = world();
  const key = await generateSigningKey("unit.test/log");
  const signer = await parseSigningKey(key.privateKey);
  const { ws, fetch } = await witnessesFor(verifierKeyOf(signer), names);
  const policy = await parseWitnessPolicy(ws.map((x) => x.entry).join(" "), quorum);
  const over: Partial<ShardDeps> = {
    config: { ...config, signers: async () => [signer], witnesses: async () => policy },
    witnessFetch: fetch,
  };
  setUp(w);
  // setUp opened with the default deps; reopen over the same storage with the witnesses.
  return { w, ws, policy, over, shard: open(w, over) };
}

/** Issues `n` receipts, then runs the alarm once past the checkpoint interval and waits for the witnesses. */
async function issueAndWitness(w: World, shard: ReturnType<typeof open>, n: number, prefix: string) {
  for (let i = 0; i < n; i++) await issue(shard, `${prefix}-${i}`);
  w.now += 1_000;
  await shard.alarm();
  await shard.witnessing.idle();
}

describe("a witnessed shard", () => {
  it("serves a checkpoint only once the quorum cosigned it, with every cosignature", async () => {
    const { w, ws, policy, shard } = await witnessedWorld(["w1.test", "w2.test"]);
    await issueAndWitness(w, shard, 3, "a");
    const view = shard.logView();
    expect(view.checkpoint?.size).toBe(3);
    expect(view.witnessed?.size).toBe(3);
    const verifiers = policy.witnesses.map((x) => x.verifier);
    expect(await cosignatureCount(view.witnessed?.note ?? "", verifiers)).toBe(2);
    expect(ws.map((x) => x.stored?.size)).toEqual([3, 3]);
    expect(shard.witnessing.at(3)).toBe(view.witnessed?.note);
  });

  it("with one of two witnesses down and quorum 2, nothing new is witnessed until it is back; then within a retry", async () => {
    const { w, ws, shard } = await witnessedWorld(["w1.test", "w2.test"]);
    await issueAndWitness(w, shard, 2, "a");
    expect(shard.logView().witnessed?.size).toBe(2);
    (ws[1] as MemoryWitness).down = true;
    await issueAndWitness(w, shard, 2, "b");
    expect(shard.logView().checkpoint?.size).toBe(4);
    expect(shard.logView().witnessed?.size).toBe(2);
    expect(shard.stats().witnessing.refusals).toEqual([]); // down is not a refusal
    (ws[1] as MemoryWitness).down = false;
    const retry = shard.witnessing.nextAt(shard.logView().checkpoint);
    expect(retry).not.toBeNull();
    expect((retry as number) - w.now).toBeLessThanOrEqual(8_000);
    w.now = retry as number;
    await shard.alarm();
    await shard.witnessing.idle();
    expect(shard.logView().witnessed?.size).toBe(4);
  });

  it("quorum 1 of 2: served as soon as one cosigns", async () => {
    const { w, ws, shard } = await witnessedWorld(["w1.test", "w2.test"], 1);
    (ws[0] as MemoryWitness).down = true;
    await issueAndWitness(w, shard, 1, "a");
    expect(shard.logView().witnessed?.size).toBe(1);
  });

  it("a restarted shard learns each witness's size from its 409 and carries on", async () => {
    const { w, ws, over, shard } = await witnessedWorld(["w1.test"]);
    await issueAndWitness(w, shard, 5, "a");
    const again = open(w, over);
    await again.start();
    await issueAndWitness(w, again, 5, "b");
    expect(again.logView().witnessed?.size).toBe(10);
    expect((ws[0] as MemoryWitness).calls).toBe(3); // first, then 409 and the retry from 5
  });

  it("the review's attack: storage rewritten, the shard signs a forged tree, the witness refuses it (422) and nothing new is witnessed", async () => {
    const { w, ws, over, shard } = await witnessedWorld(["w1.test"]);
    await issueAndWitness(w, shard, 6, "a");
    expect(shard.logView().witnessed?.size).toBe(6);
    const honest = shard.logView().witnessed?.note;

    // The insider rewrites the log's head in the shard's own storage: the same size, other leaves from entry 2 on.
    const forged = appendLeaves(
      emptyLog(),
      Array.from({ length: 6 }, (_, i) => new Uint8Array(32).fill(i < 2 ? 0 : 9 + i)),
    ).state;
    w.storage.sql.exec(
      "UPDATE batches SET log_edge = ?, log_tail = ? WHERE batch_no = (SELECT max(batch_no) FROM batches)",
      packHashes(forged.edge),
      packHashes(forged.partial[0] ?? []),
    );
    const after = open(w, over);
    await after.start();
    await issueAndWitness(w, after, 1, "b");

    expect(after.logView().checkpoint?.size).toBe(7); // the shard signed the forged tree itself…
    expect(after.logView().witnessed?.size).toBe(6); // …but it is not witnessed, so not served
    expect(after.logView().witnessed?.note).toBe(honest);
    expect((ws[0] as MemoryWitness).stored?.size).toBe(6);
    const refusals = after.stats().witnessing.refusals;
    expect(refusals).toMatchObject([{ witness: "w1.test", status: 422, count: 1, size: 7 }]);
    expect(w.logger.lines.some((l) => JSON.stringify(l).includes("witness refused the checkpoint"))).toBe(true);
    // Never retried blindly: the next alarm asks no one.
    const calls = (ws[0] as MemoryWitness).calls;
    w.now += 60_000;
    await after.alarm();
    await after.witnessing.idle();
    expect((ws[0] as MemoryWitness).calls).toBe(calls);
  });

  it("with WITNESSES that do not parse, nothing is witnessed and the shard waits a minute before it tries again (no alarm spin)", async () => {
    const w = world();
    const signer = await parseSigningKey((await generateSigningKey("unit.test/log")).privateKey);
    const over: Partial<ShardDeps> = {
      config: {
        ...config,
        signers: async () => [signer],
        witnesses: () => Promise.reject(new Error('WITNESSES: "x" is not <vkey>@<submission URL prefix>')),
      },
    };
    setUp(w);
    const shard = open(w, over);
    await issueAndWitness(w, shard, 1, "a");
    expect(shard.logView().checkpoint?.size).toBe(1);
    expect(shard.logView().witnessed).toBeNull();
    expect(shard.witnessing.nextAt(shard.logView().checkpoint)).toBeGreaterThanOrEqual(w.now + 60_000);
  });
});
