/**
 * The transparency log end to end, checked only with what a standard tlog
 * client has: the verifier key, signed checkpoints, proofs and tiles from the
 * public API, and RFC 6962 / C2SP code (tlog/merkle.ts, tlog/note.ts).
 */
import { env, evictDurableObject, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Proof } from "../../api/responses.ts";
import { canonicalHash } from "../../core/canonical.ts";
import { encodeCode, parseCode } from "../../core/code.ts";
import { type RecordRow, recordColumns, recordFromRow } from "../../db/receipts.ts";
import { shardConfig } from "../../durable-objects/config.ts";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import { fromHex, leafHash, toHex, verifyConsistency, verifyInclusion } from "../../tlog/merkle.ts";
import { generateSigningKey, openNote, parseCheckpoint, parseSigningKey, parseVerifierKey } from "../../tlog/note.ts";
import { rootAt, type TileReader } from "../../tlog/proofs.ts";
import { tileIndexPath, tileObjectKey, tileWidth, unpackHashes } from "../../tlog/tiles.ts";
import { shard } from "../../workers/shards.ts";
import { insiderSql } from "../insider.ts";
import {
  call,
  compact,
  eventually,
  fixture,
  issue,
  issuePersisted,
  sale,
  sqlQuery,
  TEST_LOG_VKEY,
  tamper,
  useShardBand,
} from "./helpers.ts";
import { commitFails, oneSale, openShard } from "./shard-ports.ts";

useShardBand(5);

const shardOf = (token: string) => Number(token.split("_")[1]);

type Signed = { note: string; size: number; root: Uint8Array };

/** The shard's latest checkpoint once it covers `size` leaves, signature checked with the published key. */
async function checkpointCovering(n: number, size: number): Promise<Signed> {
  const key = await call("GET", "/v1/log/key");
  expect(key.text).toBe(`${TEST_LOG_VKEY}\n`);
  const verifier = await parseVerifierKey(key.text);
  if (!verifier) throw new Error("bad verifier key");
  return eventually(async () => {
    const res = await call("GET", `/v1/log/${n}/checkpoint`);
    if (res.status !== 200) return null;
    const text = await openNote(res.text, verifier);
    const cp = text ? parseCheckpoint(text) : null;
    if (!cp) throw new Error(`checkpoint does not verify: ${res.text}`);
    expect(cp.origin).toBe(`tillproof.test/log/${n}`);
    return cp.size >= size ? { note: res.text, size: cp.size, root: cp.root } : null;
  });
}

/** Reads tiles through the public tile API, as a tlog client would. */
function httpTiles(n: number): TileReader {
  return async (level, index, width) => {
    const suffix = width === 256 ? "" : `.p/${width}`;
    const res = await SELF.fetch(`https://tillproof.test/v1/log/${n}/tile/${level}/${tileIndexPath(index)}${suffix}`);
    if (res.status !== 200) throw new Error(`tile ${level}/${index}/${width}: ${res.status} ${await res.text()}`);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    return unpackHashes(new Uint8Array(await res.arrayBuffer()));
  };
}

function checkProof(hash: string, proof: Proof, signed: Signed): boolean {
  if (!proof) return false;
  expect(proof.checkpoint).toBe(signed.note);
  return verifyInclusion(
    leafHash(fromHex(hash)),
    proof.leafIndex,
    proof.treeSize,
    proof.inclusion.map(fromHex),
    signed.root,
  );
}

describe("transparency log", () => {
  it("signs checkpoints whose proofs and tiles a standard checker accepts, across full tiles in R2", async () => {
    const f = await fixture();
    const n = shardOf(f.token);
    const batch = (k: number) =>
      call<{ results: { status: number; receipt: { code: string; hash: string } }[] }>("POST", "/v1/receipts/batch", {
        token: f.token,
        body: { receipts: Array.from({ length: 100 }, (_, i) => ({ idempotencyKey: `k${k}-${i}`, ...sale() })) },
      });
    const issued = [];
    for (const k of [0, 1, 2]) issued.push(...(await batch(k)).body.results.map((r) => r.receipt));
    expect(issued).toHaveLength(300);
    const last = parseCode("test-code-key", issued.at(-1)?.code ?? "")?.counter ?? 0;
    const signed = await checkpointCovering(n, last);

    // Every receipt's proof from verify checks against the signed root.
    for (const r of [issued[0], issued[255], issued[256], issued[299]]) {
      const v = await call<{ status: string; proof: Proof }>("GET", `/v1/verify/${r?.code}`);
      expect(v.body.status).toBe("valid");
      const fresh = await checkpointCovering(n, signed.size);
      expect(checkProof(r?.hash ?? "", v.body.proof, fresh)).toBe(true);
    }
    // The proof API gives the same path; the tiles rebuild the signed root.
    const index = (parseCode("test-code-key", issued[7]?.code ?? "")?.counter ?? 0) - 1;
    const viaApi = await call<{ inclusion: string[] }>(
      "GET",
      `/v1/log/${n}/proof/inclusion?index=${index}&size=${signed.size}`,
    );
    expect(viaApi.status).toBe(200);
    expect(
      verifyInclusion(
        leafHash(fromHex(issued[7]?.hash ?? "")),
        index,
        signed.size,
        viaApi.body.inclusion.map(fromHex),
        signed.root,
      ),
    ).toBe(true);
    expect(toHex(await rootAt(signed.size, httpTiles(n)))).toBe(toHex(signed.root));
    // The first full tile reaches R2, where it can be read without the shard.
    const r2 = await eventually(() => env.LOG_TILES.get(tileObjectKey(n, 0, 0)));
    expect((await r2.arrayBuffer()).byteLength).toBe(256 * 32);
    expect(tileWidth(0, 0, signed.size)).toBe(256);
  });

  it("refuses proofs past the signed tree and malformed requests with 400, unknown logs with 404", async () => {
    const f = await fixture();
    const n = shardOf(f.token);
    const first = await issue(f.token, sale());
    const signed = await checkpointCovering(n, parseCode("test-code-key", first.body.code)?.counter ?? 1);
    const s = signed.size;
    for (const q of [
      `proof/inclusion?index=0&size=${s + 1}`,
      `proof/inclusion?index=${s}&size=${s}`,
      `proof/inclusion?index=-1&size=${s}`,
      "proof/inclusion?index=0",
      `proof/consistency?from=0&to=${s}`,
      `proof/consistency?from=${s}&to=${s - 1 || 0}`,
      `proof/consistency?from=1&to=${s + 1}`,
      "tile/0/x000/000",
      "tile/9/000",
    ]) {
      const res = await call("GET", `/v1/log/${n}/${q}`);
      if (s === 1 && q.startsWith(`proof/consistency?from=${s}&to=0`)) continue;
      expect(res.status, q).toBe(400);
      expect((res.body as { error: { code: string } }).error.code).toMatch(
        /^(invalid_range|validation_failed|invalid_tile|invalid_id)$/,
      );
    }
    expect((await call("GET", `/v1/log/${n}/proof/consistency?from=${s}&to=${s}`)).body).toEqual({
      from: s,
      to: s,
      consistency: [],
    });
    expect((await call("GET", "/v1/log/8192/checkpoint")).status).toBe(400);
    expect((await call("GET", "/v1/log/5000/checkpoint")).status).toBe(404); // past SHARD_COUNT: no log, no object woken
    expect((await call("GET", "/v1/log/1023/checkpoint")).status).toBe(404);
  });

  it("says tampered from the first receipt of a rewritten suffix, though every link still holds", async () => {
    const f = await fixture();
    const receipts = [];
    for (let i = 0; i < 4; i++) receipts.push(await issuePersisted(f.token));
    // An insider rewrites receipt 2 and re-chains 3 and 4 to it, recomputing every hash.
    let prevHash = receipts[0]?.hash ?? "";
    for (const [i, r] of receipts.slice(1).entries()) {
      const [row] = await sqlQuery<Record<string, unknown>>(`SELECT ${recordColumns()} FROM receipts WHERE code = $1`, [
        compact(r.code),
      ]);
      const forged = { ...recordFromRow(row as RecordRow), prevHash, ...(i === 0 ? { total: 1 } : {}) };
      const hash = canonicalHash(forged);
      await tamper(r.code, `prev_hash = '${prevHash}', hash = '${hash}'${i === 0 ? ", total = 1" : ""}`);
      prevHash = hash;
    }
    const status = async (code: string) => (await call<{ status: string }>("GET", `/v1/verify/${code}`)).body.status;
    expect(await status(receipts[0]?.code ?? "")).toBe("valid");
    for (const r of receipts.slice(1)) expect(await status(r.code)).toBe("tampered");
    // The forged hash is not in the signed tree, so the proof the answer carries fails for it.
    const v = await call<{ hash: string; proof: Proof }>("GET", `/v1/verify/${receipts[1]?.code}`);
    const signed = await checkpointCovering(shardOf(f.token), v.body.proof?.treeSize ?? 1);
    expect(checkProof(v.body.hash, v.body.proof, signed)).toBe(false);
    expect(checkProof(receipts[1]?.hash ?? "", v.body.proof, signed)).toBe(true);
  });

  it("says missing, not unknown, for an issued receipt whose record was deleted", async () => {
    const f = await fixture();
    const r = await issuePersisted(f.token);
    await sqlQuery(insiderSql(`DELETE FROM receipts WHERE code = '${compact(r.code)}'`));
    const res = await call<{ status: string; persisted: boolean }>("GET", `/v1/verify/${r.code}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ code: r.code, status: "missing", persisted: false });
    const page = await call("GET", `/r/${r.code}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("MISSING");
    expect(page.text).toContain("its record is gone");
    // A well-formed code past the shard's log was never issued: still 404.
    const parts = parseCode("test-code-key", r.code);
    const unissued = encodeCode("test-code-key", { shard: parts?.shard ?? 0, counter: (parts?.counter ?? 0) + 10_000 });
    expect((await call("GET", `/v1/verify/${unissued}`)).status).toBe(404);
  });

  it("proves consistency between checkpoints signed before and after a shard restart", async () => {
    const f = await fixture();
    const n = shardOf(f.token);
    const a = await issue(f.token, sale());
    const before = await checkpointCovering(n, parseCode("test-code-key", a.body.code)?.counter ?? 1);
    await evictDurableObject(shard(env, n));
    await issue(f.token, sale());
    const b = await issue(f.token, sale());
    const after = await checkpointCovering(n, parseCode("test-code-key", b.body.code)?.counter ?? 1);
    expect(after.size).toBeGreaterThan(before.size);
    const res = await call<{ consistency: string[] }>(
      "GET",
      `/v1/log/${n}/proof/consistency?from=${before.size}&to=${after.size}`,
    );
    expect(res.status).toBe(200);
    const proof = res.body.consistency.map(fromHex);
    expect(verifyConsistency(before.size, after.size, proof, before.root, after.root)).toBe(true);
    expect(verifyConsistency(before.size, after.size, proof, after.root, after.root)).toBe(false);
  });

  it("never signs a tree holding a receipt whose transaction failed", async () => {
    const f = await fixture();
    const n = shardOf(f.token);
    const a = await issue(f.token, sale());
    const counter = parseCode("test-code-key", a.body.code)?.counter ?? 0;
    await checkpointCovering(n, counter);
    const stub = shard(env, n);
    await runInDurableObject(stub, async (_: StoreShard, state) => {
      const failing = openShard(state.storage, { storage: commitFails(state.storage) });
      await expect(failing.issue(oneSale(n, f.token, sale()))).rejects.toThrow(/commit failed/);
      expect(failing.log.size).toBe(counter);
      // The newest ring row, which carries the log's head, is still the one before.
      expect(state.storage.sql.exec("SELECT max(log_size) AS size FROM batches").one().size).toBe(counter);
      // Nothing new to sign: the failed receipt never entered the tree.
      expect(failing.log.unsigned).toBe(false);
    });
    await evictDurableObject(stub);
    const b = await issue(f.token, sale());
    expect(parseCode("test-code-key", b.body.code)?.counter).toBe(counter + 1);
    const signed = await checkpointCovering(n, counter + 1);
    const v = await call<{ hash: string; proof: Proof }>("GET", `/v1/verify/${b.body.code}`);
    expect(checkProof(b.body.hash, v.body.proof, await checkpointCovering(n, signed.size))).toBe(true);
  });

  it("never spins its alarm when it cannot sign (no key configured, or a key that fails)", async () => {
    const f = await fixture();
    const n = shardOf(f.token);
    const stub = shard(env, n);
    await runInDurableObject(stub, async (_: StoreShard, state) => {
      const failing = async () => {
        throw new Error("LOG_SIGNING_KEY is not an Ed25519 key");
      };
      for (const signers of [async () => [], failing]) {
        const s = openShard(state.storage, { config: { ...shardConfig(env), signers } });
        await s.issue(oneSale(n, f.token, sale()));
        await s.alarm();
        expect(s.log.unsigned).toBe(true);
        const next = (await state.storage.getAlarm()) ?? 0;
        expect(next - Date.now()).toBeGreaterThan(500);
      }
    });
    await evictDurableObject(stub);
  });

  it("re-signs an idle shard's checkpoint when the keys rotate, so pinned clients of the new key can check it", async () => {
    const f = await fixture();
    const n = shardOf(f.token);
    const a = await issue(f.token, sale());
    const before = await checkpointCovering(n, parseCode("test-code-key", a.body.code)?.counter ?? 1);
    const next = await generateSigningKey("tillproof.test/log-2027");
    const oldKey = await parseSigningKey(env.LOG_SIGNING_KEY ?? "");
    const newKey = await parseSigningKey(next.privateKey);
    const stub = shard(env, n);
    await runInDurableObject(stub, async (_: StoreShard, state) => {
      for (const [keys, expected] of [
        [[oldKey, newKey], 3], // step 1: both keys sign
        [[newKey], 2], // step 3: the old key dropped
      ] as const) {
        const s = openShard(state.storage, { config: { ...shardConfig(env), signers: async () => [...keys] } });
        await s.start();
        await s.alarm();
        const note = s.log.view().checkpoint?.note ?? "";
        expect(note.split("\n— ")).toHaveLength(expected);
        expect(parseCheckpoint((await openNote(note, (await parseVerifierKey(next.verifierKey))!)) ?? "")?.size).toBe(
          before.size,
        );
        const old = await openNote(note, (await parseVerifierKey(TEST_LOG_VKEY))!);
        expect(old !== null).toBe(expected === 3);
      }
    });
    await evictDurableObject(stub);
  });
});
