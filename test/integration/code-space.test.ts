/**
 * Code space (contract v1.1): new codes are 20 characters; every 16-character
 * code printed before keeps verifying, on the JSON API and the page, in any
 * form; a shard still on v1 switches to v2 when v1 runs out, instead of 503.
 */
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { groupCode, parseCode } from "../../core/code.ts";
import { shardConfig } from "../../durable-objects/config.ts";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import { shard } from "../../workers/shards.ts";
import { call, compact, eventually, fixture, issue, sale, sqlQuery, useShardBand } from "./helpers.ts";
import { oneSale, openShard } from "./shard-ports.ts";

useShardBand(6);

const KEY = "test-code-key";
type Verified = { code: string; status: string; persisted: boolean; seq: number; proof: unknown };

/**
 * Issues `n` receipts through a Shard opened over the object's storage with a v1 configuration, as
 * before v1.1. `runsOutIn`: v1's counter runs out that many receipts from now (read from storage).
 */
async function issueAsV1(n: number, token: string, count: number, runsOutIn?: number): Promise<string[]> {
  const codes = await runInDurableObject(shard(env, n), async (_: StoreShard, state) => {
    const size = openShard(state.storage).log.size;
    const limit = runsOutIn === undefined ? {} : { v1MaxCounter: size + runsOutIn };
    const config = { ...shardConfig(env), codeFormat: 1 as const, ...limit };
    const legacy = openShard(state.storage, { config });
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const [o] = (await legacy.issue(oneSale(n, token, sale()))).outcomes;
      if (!o || !("issued" in o)) throw new Error(`not issued: ${JSON.stringify(o)}`);
      out.push(groupCode(o.issued.code));
    }
    return out;
  });
  await evictDurableObject(shard(env, n));
  // The real object reloads and arms its alarm for what it holds (the one the test's instance set may
  // already have fired on the object as it was before the eviction, with nothing to send).
  await shard(env, n).stats();
  return codes;
}

/**
 * A store on a shard no other test of this file used: each test forces its
 * shard's layout, so two sharing one (a 1-in-8 chance in the band) would see
 * each other's codes.
 */
const usedShards = new Set<number>();
async function freshFixture(): Promise<Awaited<ReturnType<typeof fixture>>> {
  for (;;) {
    const f = await fixture();
    const n = Number(f.token.split("_")[1]);
    if (!usedShards.has(n)) {
      usedShards.add(n);
      return f;
    }
  }
}

async function persisted(code: string): Promise<void> {
  await eventually(async () => (await sqlQuery("SELECT 1 FROM receipts WHERE code = $1", [compact(code)]))[0]);
}

describe("code space", () => {
  it("keeps a store's 16-character codes verifying after its shard moved on to 20-character ones", async () => {
    const f = await freshFixture();
    const n = Number(f.token.split("_")[1]);
    const old = await issueAsV1(n, f.token, 2);
    for (const code of old) expect(compact(code)).toHaveLength(16);
    const next = await issue(f.token, sale());
    expect(next.status).toBe(201);
    expect(compact(next.body.code)).toHaveLength(20);
    expect(next.body.seq).toBe(3);
    // One log across both layouts: the counter runs on.
    expect(parseCode(KEY, next.body.code)?.counter).toBe((parseCode(KEY, old[1] ?? "")?.counter ?? 0) + 1);
    for (const code of [...old, next.body.code]) await persisted(code);
    for (const code of [...old, next.body.code]) {
      for (const form of [code, compact(code), code.toLowerCase(), ` ${code.replaceAll("-", " ")} `]) {
        const v = await call<Verified>("GET", `/v1/verify/${encodeURIComponent(form)}`);
        expect(v.status, form).toBe(200);
        expect(v.body).toMatchObject({ code, status: "valid", persisted: true });
      }
      const page = await call("GET", `/r/${code}`);
      expect(page.status).toBe(200);
      expect(page.text).toContain("Verified");
    }
  });

  it("never treats the other layout's spelling of an issued counter as that receipt", async () => {
    const f = await freshFixture();
    const n = Number(f.token.split("_")[1]);
    const [v1] = await issueAsV1(n, f.token, 1);
    const parts = parseCode(KEY, v1 ?? "");
    const { encodeCode } = await import("../../core/code.ts");
    const twin = encodeCode(KEY, { shard: n, counter: parts?.counter ?? 0 }, 2);
    await persisted(v1 ?? "");
    // Well-formed and keyed, but never issued: 404, not "missing".
    expect((await call("GET", `/v1/verify/${twin}`)).status).toBe(404);
  });

  it("switches a shard still issuing v1 to v2 when v1's counter runs out, instead of answering 503", async () => {
    const f = await freshFixture();
    const n = Number(f.token.split("_")[1]);
    // v1 "runs out" two receipts from now (the limit lowered through the configuration seam).
    const codes = await issueAsV1(n, f.token, 4, 2);
    expect(codes.map((c) => compact(c).length)).toEqual([16, 16, 20, 20]);
    for (const code of codes) await persisted(code);
    for (const code of codes) {
      expect((await call<Verified>("GET", `/v1/verify/${code}`)).body.status).toBe("valid");
    }
  });
});
