/**
 * The shard's logic in Node, over node:sqlite (test-storage.ts): numbering,
 * chaining, idempotency, group commit, the ring across restarts, and what it
 * logs. The wiring (RPC, the queue, Postgres) is test/integration's.
 */
import { describe, expect, it } from "vitest";
import { parseCode } from "../core/code.ts";
import { hashSecret } from "../core/credentials.ts";
import { GENESIS_HASH } from "../core/receipt.ts";
import { config, issue, issuedOf, KEY, open, SHARD, STORE, sale, setUp, TOKEN, world } from "./test-shards.ts";

describe("the shard, in Node over node:sqlite", () => {
  it("numbers receipts from 1 and chains each store's receipts", async () => {
    const w = world();
    const shard = setUp(w);
    const first = issuedOf(await issue(shard, "a"));
    const second = issuedOf(await issue(shard, "b"));
    expect(parseCode(KEY, first.code)).toMatchObject({ shard: SHARD, counter: 1 });
    expect(parseCode(KEY, second.code)).toMatchObject({ shard: SHARD, counter: 2 });
    expect([first.seq, second.seq]).toEqual([1, 2]);
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(second.prevHash).toBe(first.hash);
    expect(first.receivedAt).toBe(new Date(w.now).toISOString());
  });

  it("replays a retry with the same key and body, and refuses the key with another body", async () => {
    const shard = setUp(world());
    const original = issuedOf(await issue(shard, "same"));
    const retry = await issue(shard, "same");
    expect(retry).toEqual({ kind: "replayed", issued: original });
    expect(await issue(shard, "same", sale(999))).toEqual({ kind: "conflict" });
  });

  it("spends nothing when the commit fails: the next receipt still gets counter 1", async () => {
    const w = world();
    const shard = setUp(w);
    w.storage.faults.failNextCommit = true;
    await expect(issue(shard, "lost")).rejects.toThrow(/commit failed/);
    const next = issuedOf(await issue(shard, "next"));
    expect(parseCode(KEY, next.code)?.counter).toBe(1);
    expect(next.prevHash).toBe(GENESIS_HASH);
  });

  it("keeps a receipt whose sync failed after the write: a restarted shard replays it, never reissues it", async () => {
    const w = world();
    const shard = setUp(w);
    w.storage.faults.failNextSync = true;
    await expect(issue(shard, "written")).rejects.toThrow(/sync failed/);
    const restarted = open(w);
    const retry = issuedOf(await issue(restarted, "written"));
    expect(parseCode(KEY, retry.code)?.counter).toBe(1);
    const next = issuedOf(await issue(restarted, "after"));
    expect(parseCode(KEY, next.code)?.counter).toBe(2);
    expect(next.prevHash).toBe(retry.hash);
  });

  it("finds a key again through its written-out run after a mark and a restart", async () => {
    const w = world();
    const shard = setUp(w);
    const original = issuedOf(await issue(shard, "marked"));
    shard.mark(w.now);
    expect(w.storage.sql.exec("SELECT count(*) AS n FROM idem_runs").one().n).toBe(1);
    const restarted = open(w);
    expect(await issue(restarted, "marked")).toEqual({ kind: "replayed", issued: original });
    expect(await issue(restarted, "marked", sale(1))).toEqual({ kind: "conflict" });
  });

  it("gathers what arrives during a commit into the next one (group commit)", async () => {
    const shard = setUp(world());
    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => issue(shard, `g${i}`)));
    const counters = outcomes.map((o) => parseCode(KEY, issuedOf(o).code)?.counter);
    expect(counters.sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([1, 2, 3, 4, 5, 6]);
    const { batches, receipts } = shard.stats().commits;
    expect(receipts).toBe(6);
    expect(batches).toBeLessThan(6);
  });

  it("sends what it issued on its alarm, and logs a send that failed through its logger", async () => {
    const w = world();
    let fail = true;
    const shard = open(w, {
      queue: {
        sendBatch: async (batch) => {
          if (fail) throw new Error("queue down");
          w.sent.push(...[...batch].map((m) => m.body));
        },
      },
    });
    shard.registerTerminal(SHARD, STORE, { terminalId: "till-1", tokenHash: hashSecret(TOKEN) });
    await issue(shard, "q");
    w.now += 1_000;
    await shard.alarm();
    expect(w.logger.lines).toContainEqual(expect.objectContaining({ level: "error", msg: "outbox flush failed" }));
    expect(shard.stats().unpersisted).toBe(1);
    fail = false;
    w.now += 120_000;
    await shard.alarm();
    expect(w.sent.flatMap((m) => m.receipts.map((r) => r.counter))).toContain(1);
  });

  it("wakes itself less than once a receipt at production's per-shard rate (alarms are billed requests)", async () => {
    // 15,000/s on 256 shards is 58.6/s a shard: a receipt every 17 ms, with the product's flush and checkpoint times.
    const w = world();
    let set = 0;
    const setAlarm = w.storage.setAlarm;
    w.storage.setAlarm = (at) => {
      set++;
      return setAlarm(at);
    };
    const shard = open(w, { config: { ...config, flushMs: 250, checkpointMs: 1_000 } });
    shard.registerTerminal(SHARD, STORE, { terminalId: "till-1", tokenHash: hashSecret(TOKEN) });
    const receipts = 600;
    let woken = 0;
    for (let i = 0; i < receipts; i++) {
      await issue(shard, `rate-${i}`);
      const next = w.now + 17;
      for (let at = w.storage.alarm(); at !== null && at <= next; at = w.storage.alarm()) {
        w.now = Math.max(w.now, at);
        await shard.alarm();
        woken++;
      }
      w.now = next;
      if (i % 60 === 59) shard.markPersisted(w.sent.flatMap((m) => m.receipts.map((r) => r.counter)));
    }
    // Sent in flushes of about 250 ms of receipts each: all but the last flush's.
    expect(w.sent.flatMap((m) => m.receipts).length).toBeGreaterThan(receipts - 250 / 17 - 1);
    expect(woken / receipts).toBeLessThan(0.1);
    expect(set / receipts).toBeLessThan(0.2);
  });
});
