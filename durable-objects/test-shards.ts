/**
 * Shards in Node for the shard's unit tests: a world (storage, clock, logger,
 * what was sent) and shards opened over it; opening again is a restart. A
 * world's `shards` lets shards reach each other's refund ledgers as over RPC.
 * Never imported by the product.
 */
import { canonicalHash } from "../core/canonical.ts";
import { hashSecret } from "../core/credentials.ts";
import type { OutboxMessage } from "../core/outbox.ts";
import type { ChainRecord } from "../core/receipt.ts";
import { parseReceipt } from "../core/receipt.ts";
import { memoryLogger } from "../kit/logger.ts";
import type { IssueEntry, IssueOutcome } from "./issuer.ts";
import type { LedgerPeer, ShardConfig, ShardDeps } from "./ports.ts";
import { Shard } from "./shard.ts";
import { type TestStorage, testStorage } from "./test-storage.ts";

export const SHARD = 7;
export const KEY = "unit-code-key";
export const TOKEN = "tpt_7_unit-terminal-token";
export const STORE = { tenantId: "acme", storeId: "berlin-1", name: "Berlin", timezone: "Europe/Berlin" };

export const config: ShardConfig = {
  codeKey: KEY,
  codeFormat: 2,
  v1MaxCounter: 2 ** 40,
  outboxLimit: 1_000,
  storeRate: 1_000,
  flushMs: 20,
  commitHoldMs: 0,
  checkpointMs: 50,
  logOrigin: "unit.test/log",
  voidWindowMs: 900_000,
  offlineMaxMs: 72 * 3_600_000,
  signers: async () => [],
  witnesses: async () => ({ witnesses: [], quorum: 0 }),
};

export const sale = (total = 680) => ({
  issuedAt: "2026-11-21T10:15:00+01:00",
  currency: "EUR",
  items: [{ name: "Espresso", quantity: 1, unitPrice: total, total }],
  total,
  payments: [{ method: "card", amount: total }],
});

export type World = {
  storage: TestStorage;
  /** The world's R2: full log tiles by key. */
  tiles: Map<string, Uint8Array>;
  sent: OutboxMessage[];
  logger: ReturnType<typeof memoryLogger>;
  now: number;
};

/** Shards that can reach each other (by number), and the record store behind them. */
export type Fleet = { shards: Map<number, Shard>; records: Map<string, ChainRecord> };

/** Another shard's ledgers as a peer sees them: through the fleet, failing as RPC would if it is not there. */
export function fleetPeer(fleet: Fleet): (n: number) => LedgerPeer {
  const of = (n: number) => {
    const s = fleet.shards.get(n);
    if (!s) throw new Error(`shard ${n} is unreachable`);
    return s;
  };
  return (n) => ({
    reserve: (call) => of(n).reserve(call),
    confirm: async (call) => of(n).confirm(call),
    release: async (call) => of(n).release(call),
    holdOutcome: async (hold) => of(n).holdOutcome(hold),
  });
}

export function world(): World {
  return {
    storage: testStorage(),
    tiles: new Map(),
    sent: [],
    logger: memoryLogger(),
    now: Date.parse("2026-11-21T09:15:00Z"),
  };
}

/** A shard over the world's storage: call again for a restart. */
export function open(w: World, over: Partial<ShardDeps> = {}, number = SHARD): Shard {
  const shard = new Shard({
    storage: w.storage,
    clock: () => w.now,
    logger: w.logger,
    queue: { sendBatch: async (batch) => void w.sent.push(...[...batch].map((m) => m.body)) },
    // The shard ignores what a put returns, and reads only a get's bytes.
    tiles: {
      put: (async (key: string, value: Uint8Array) => void w.tiles.set(key, value)) as unknown as R2Bucket["put"],
      get: (async (key: string) => {
        const bytes = w.tiles.get(key);
        return bytes ? { arrayBuffer: async () => bytes.slice().buffer } : null;
      }) as unknown as R2Bucket["get"],
    },
    witnessFetch: async () => {
      throw new Error("this world has no witnesses");
    },
    config,
    peer: () => {
      throw new Error("this test has one shard");
    },
    findRecord: async () => null,
    ...over,
  });
  shard.claim(number);
  return shard;
}

export function setUp(w: World): Shard {
  const shard = open(w);
  shard.registerTerminal(SHARD, STORE, { terminalId: "till-1", tokenHash: hashSecret(TOKEN) });
  return shard;
}

export async function issue(
  shard: Shard,
  key: string,
  body: object = sale(),
  now = Date.now(),
  opts: { token?: string; refersTo?: IssueEntry["refersTo"] } = {},
): Promise<IssueOutcome> {
  const entry: IssueEntry = { idempotencyKey: key, bodyHash: canonicalHash(body), receipt: parseReceipt(body, now) };
  if (opts.refersTo) entry.refersTo = opts.refersTo;
  const reply = await shard.issue({ shard: shard.shard, tokenHash: hashSecret(opts.token ?? TOKEN), entries: [entry] });
  if (reply.refused) throw new Error(`refused: ${reply.refused.kind}`);
  return reply.outcomes[0] as IssueOutcome;
}

export const issuedOf = (o: IssueOutcome) => {
  if (!("issued" in o)) throw new Error(`not issued: ${o.kind}`);
  return o.issued;
};
