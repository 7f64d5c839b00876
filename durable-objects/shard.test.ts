/**
 * The shard's logic in Node, over node:sqlite (test-storage.ts): numbering,
 * chaining, idempotency, group commit, the ring across restarts, and what it
 * logs. The wiring (RPC, the queue, Postgres) is test/integration's.
 */
import { describe, expect, it } from "vitest";
import { canonicalHash } from "../core/canonical.ts";
import { parseCode } from "../core/code.ts";
import { hashSecret } from "../core/credentials.ts";
import type { OutboxMessage } from "../core/outbox.ts";
import { GENESIS_HASH, parseReceipt } from "../core/receipt.ts";
import { memoryLogger } from "../kit/logger.ts";
import type { IssueOutcome } from "./issuer.ts";
import type { ShardConfig, ShardDeps } from "./ports.ts";
import { Shard } from "./shard.ts";
import { type TestStorage, testStorage } from "./test-storage.ts";

const SHARD = 7;
const KEY = "unit-code-key";
const TOKEN = "tpt_7_unit-terminal-token";
const STORE = { tenantId: "acme", storeId: "berlin-1", name: "Berlin", timezone: "Europe/Berlin" };

const config: ShardConfig = {
  codeKey: KEY,
  codeFormat: 2,
  v1MaxCounter: 2 ** 40,
  outboxLimit: 1_000,
  storeRate: 1_000,
  flushMs: 20,
  commitWindowMs: 60,
  checkpointMs: 50,
  logOrigin: "unit.test/log",
  voidWindowMs: 900_000,
  signers: async () => [],
};

const sale = (total = 680) => ({
  issuedAt: "2026-11-21T10:15:00+01:00",
  currency: "EUR",
  items: [{ name: "Espresso", quantity: 1, unitPrice: total, total }],
  total,
  payments: [{ method: "card", amount: total }],
});

type World = { storage: TestStorage; sent: OutboxMessage[]; logger: ReturnType<typeof memoryLogger>; now: number };

function world(): World {
  return { storage: testStorage(), sent: [], logger: memoryLogger(), now: Date.parse("2026-11-21T09:15:00Z") };
}

/** A shard over the world's storage: call again for a restart. */
function open(w: World, over: Partial<ShardDeps> = {}): Shard {
  const shard = new Shard({
    storage: w.storage,
    clock: () => w.now,
    logger: w.logger,
    queue: { sendBatch: async (batch) => void w.sent.push(...[...batch].map((m) => m.body)) },
    // The shard ignores what a put returns.
    tiles: { put: (async () => null) as unknown as R2Bucket["put"] },
    config,
    peer: () => {
      throw new Error("this test has one shard");
    },
    findRecord: async () => null,
    ...over,
  });
  shard.claim(SHARD);
  return shard;
}

function setUp(w: World): Shard {
  const shard = open(w);
  shard.registerTerminal(SHARD, STORE, { terminalId: "till-1", tokenHash: hashSecret(TOKEN) });
  return shard;
}

async function issue(shard: Shard, key: string, body = sale(), now = Date.now()): Promise<IssueOutcome> {
  const reply = await shard.issue({
    shard: SHARD,
    tokenHash: hashSecret(TOKEN),
    entries: [{ idempotencyKey: key, bodyHash: canonicalHash(body), receipt: parseReceipt(body, now) }],
  });
  if (reply.refused) throw new Error(`refused: ${reply.refused.kind}`);
  return reply.outcomes[0] as IssueOutcome;
}

const issuedOf = (o: IssueOutcome) => {
  if (!("issued" in o)) throw new Error(`not issued: ${o.kind}`);
  return o.issued;
};

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
});
