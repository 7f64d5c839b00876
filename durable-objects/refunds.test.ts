/**
 * The refund saga across two shards in Node (docs/refunds.md): the original's
 * shard keeps the ledger, the refund's shard reserves, issues, confirms. Each
 * shard can restart (a new Shard over the same storage) between the steps.
 */
import { describe, expect, it } from "vitest";
import { parseCode } from "../core/code.ts";
import { hashSecret } from "../core/credentials.ts";
import type { ChainRecord } from "../core/receipt.ts";
import { HOLD_MS } from "./ledgers.ts";
import type { ShardDeps } from "./ports.ts";
import type { Shard } from "./shard.ts";
import { type Fleet, fleetPeer, issue, issuedOf, KEY, open, SHARD, STORE, sale, TOKEN, world } from "./test-shards.ts";

const REFUND_SHARD = 9;
const REFUND_TOKEN = "tpt_9_refund-terminal";
const OTHER_STORE = { tenantId: "acme", storeId: "hamburg-2", name: "Hamburg", timezone: "Europe/Berlin" };

type Two = {
  fleet: Fleet;
  w: { o: ReturnType<typeof world>; r: ReturnType<typeof world> };
  o: Shard;
  r: Shard;
  reopen: (which: "o" | "r", over?: Partial<ShardDeps>) => Shard;
};

/** The original's shard (7, store berlin-1) and the refund's shard (9, store hamburg-2), sharing one clock. */
function twoShards(): Two {
  const fleet: Fleet = { shards: new Map(), records: new Map() };
  const w = { o: world(), r: world() };
  const deps = (): Partial<ShardDeps> => ({
    peer: fleetPeer(fleet),
    findRecord: async (code) => fleet.records.get(code) ?? null,
    clock: () => w.o.now,
  });
  const reopen = (which: "o" | "r", over: Partial<ShardDeps> = {}) => {
    const n = which === "o" ? SHARD : REFUND_SHARD;
    const shard = open(w[which], { ...deps(), ...over }, n);
    fleet.shards.set(n, shard);
    return shard;
  };
  const o = reopen("o");
  const r = reopen("r");
  o.registerTerminal(SHARD, STORE, { terminalId: "till-1", tokenHash: hashSecret(TOKEN) });
  r.registerTerminal(REFUND_SHARD, OTHER_STORE, { terminalId: "till-9", tokenHash: hashSecret(REFUND_TOKEN) });
  return { fleet, w, o, r, reopen };
}

const refundOf = (amount: number, refersTo: string) => ({
  issuedAt: "2026-11-21T11:00:00+01:00",
  currency: "EUR",
  kind: "refund",
  refersTo,
  items: [{ name: "Espresso", quantity: 1, unitPrice: amount, total: amount }],
  total: amount,
  payments: [{ method: "card", amount }],
});

async function saleOn(t: Two, total = 680) {
  const issued = issuedOf(await issue(t.o, `sale-${total}-${Math.random()}`, sale(total), t.w.o.now));
  const parts = parseCode(KEY, issued.code);
  if (!parts) throw new Error("bad code");
  return { issued, ref: { shard: parts.shard, counter: parts.counter, code: parts.code } };
}

const refund = (t: Two, key: string, amount: number, ref: { shard: number; counter: number; code: string }) =>
  issue(t.r, key, refundOf(amount, ref.code), t.w.o.now, { token: REFUND_TOKEN, refersTo: ref });

/** The refund's shard, reopened so that every confirmation it sends is lost on the way. */
function loseConfirmations(t: Two): void {
  const real = fleetPeer(t.fleet);
  t.r = t.reopen("r", {
    peer: (n) => ({
      ...real(n),
      confirm: async () => {
        throw new Error("lost on the way");
      },
    }),
  });
}

const refunded = (t: Two, counter: number) => t.o.view(counter).refunds?.refundedTotal ?? 0;

describe("the refund saga across shards", () => {
  it("reserves on the original's shard, issues on its own, and confirms: the sale shows the refund", async () => {
    const t = twoShards();
    const { issued: s, ref } = await saleOn(t);
    const r = issuedOf(await refund(t, "r1", 300, ref));
    expect(r).toMatchObject({ kind: "refund", refersTo: ref.code, storeId: "hamburg-2" });
    expect(t.o.view(ref.counter).refunds).toEqual({
      refunds: [{ code: r.code, total: 300, receivedAt: r.receivedAt }],
      refundedTotal: 300,
      voidedBy: null,
    });
    expect(await refund(t, "r2", 381, ref)).toMatchObject({
      kind: "refund_refused",
      reason: "refund_exceeds_original",
    });
    expect(s.kind).toBe("sale");
  });

  it("confirms after the refund's shard restarted between issuing and confirming (the alarm sends it)", async () => {
    const t = twoShards();
    const { ref } = await saleOn(t);
    // The confirmation is lost on the way: the refund is issued, its saga row stays.
    loseConfirmations(t);
    issuedOf(await refund(t, "r1", 680, ref));
    expect(t.o.view(ref.counter).refunds?.refunds).toEqual([]);
    // Still reserved: nothing more may be given back meanwhile.
    expect(await refund(t, "r2", 1, ref)).toMatchObject({ reason: "refund_exceeds_original" });
    const restarted = t.reopen("r");
    t.w.o.now += 10;
    await restarted.alarm();
    expect(refunded(t, ref.counter)).toBe(680);
    expect(t.w.r.storage.sql.exec("SELECT count(*) AS n FROM refund_sagas").one().n).toBe(0);
  });

  it("confirms through the original's own question when the refund's shard never came back to it", async () => {
    const t = twoShards();
    const { ref } = await saleOn(t);
    loseConfirmations(t);
    const r = issuedOf(await refund(t, "r1", 100, ref));
    t.w.o.now += HOLD_MS + 1;
    await t.o.alarm();
    expect(t.o.view(ref.counter).refunds?.refunds.map((x) => x.code)).toEqual([r.code]);
  });

  it("releases a reservation whose refund's shard restarted before issuing, after the hold time", async () => {
    const t = twoShards();
    const { ref } = await saleOn(t);
    // The refund's shard reserved, then went away before it committed.
    const answer = await t.o.reserve({
      ...ref,
      hold: "lost-hold",
      kind: "refund",
      bodyHash: "b",
      tenantId: "acme",
      storeId: "hamburg-2",
      currency: "EUR",
      items: [{ name: "Espresso", quantity: 1, total: 680 }],
      mirror: "",
      from: REFUND_SHARD,
    });
    expect(answer).toMatchObject({ ok: true });
    t.reopen("r");
    expect(await refund(t, "r1", 1, ref)).toMatchObject({ reason: "refund_exceeds_original" });
    t.w.o.now += HOLD_MS - 1;
    await t.o.alarm();
    expect(await refund(t, "r2", 1, ref)).toMatchObject({ reason: "refund_exceeds_original" });
    t.w.o.now += 2;
    await t.o.alarm();
    expect(issuedOf(await refund(t, "r3", 680, ref)).kind).toBe("refund");
    expect(refunded(t, ref.counter)).toBe(680);
  });

  it("keeps the ledger when the original's shard restarts between reserve and confirm", async () => {
    const t = twoShards();
    const { ref } = await saleOn(t);
    const realPeer = fleetPeer(t.fleet);
    // The original's shard restarts while the refund is being issued.
    t.r = t.reopen("r", {
      peer: (n) => ({
        ...realPeer(n),
        reserve: async (call) => {
          const a = await realPeer(n).reserve(call);
          t.o = t.reopen("o");
          return a;
        },
      }),
    });
    const r = issuedOf(await refund(t, "r1", 680, ref));
    expect(t.o.view(ref.counter).refunds?.refunds.map((x) => x.code)).toEqual([r.code]);
  });

  it("replays a retry of a refund (after a lost reply) without counting it twice", async () => {
    const t = twoShards();
    const { ref } = await saleOn(t);
    const first = issuedOf(await refund(t, "same", 200, ref));
    expect(await refund(t, "same", 200, ref)).toEqual({ kind: "replayed", issued: first });
    expect(refunded(t, ref.counter)).toBe(200);
    expect(await refund(t, "same", 201, ref)).toEqual({ kind: "conflict" });
  });

  it("gives the last unit to exactly one of many refunds racing for it", async () => {
    const t = twoShards();
    const { ref } = await saleOn(t);
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => refund(t, `race-${i}`, 680, ref)));
    expect(outcomes.filter((o) => o.kind === "issued")).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === "refund_refused")).toHaveLength(9);
    expect(refunded(t, ref.counter)).toBe(680);
  });

  it("releases the reservation when the refund's commit fails, so the amount can be refunded again", async () => {
    const t = twoShards();
    const { ref } = await saleOn(t);
    t.w.r.storage.faults.failNextCommit = true;
    await expect(refund(t, "fails", 680, ref)).rejects.toThrow(/commit failed/);
    await new Promise((r) => setTimeout(r, 0));
    expect(issuedOf(await refund(t, "again", 680, ref)).kind).toBe("refund");
  });

  it("opens the ledger of an original the ring no longer holds from the record store, and refuses a code never issued", async () => {
    const t = twoShards();
    const { ref } = await saleOn(t);
    const held = JSON.parse(t.o.ring.receipt(ref.counter)?.record ?? "null") as ChainRecord;
    t.fleet.records.set(ref.code, held);
    // A shard whose ring lost it: only the record store has it.
    t.o.ring.receipt = () => null;
    expect(issuedOf(await refund(t, "from-pg", 10, ref)).kind).toBe("refund");
    const never = { ...ref, counter: ref.counter + 5 };
    expect(await refund(t, "never", 10, never)).toMatchObject({ reason: "original_not_found" });
  });
});
