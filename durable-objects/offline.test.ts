/**
 * Offline receipts on the shard, in Node over node:sqlite: the terminal's
 * signature checked before anything is spent, a sequence answered for ever
 * (past the idempotency keys' 24 h and across restarts), late receipts and
 * gaps in the terminal's account.
 */
import { describe, expect, it } from "vitest";
import { canonicalHash } from "../core/canonical.ts";
import { parseCode } from "../core/code.ts";
import { hashSecret } from "../core/credentials.ts";
import { offlineReceiptText, signText } from "../core/offline.ts";
import { parseReceipt } from "../core/receipt.ts";
import { toBase64 } from "../kit/base64.ts";
import type { IssueOutcome } from "./issuer.ts";
import type { Shard } from "./shard.ts";
import { issue, issuedOf, KEY, open, SHARD, STORE, sale, TOKEN, type World, world } from "./test-shards.ts";

const HOUR = 3_600_000;
type Till = { key: CryptoKey; publicKey: string };

async function till(w: World): Promise<{ shard: Shard; till: Till }> {
  const pair = (await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = toBase64(new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer));
  const shard = open(w);
  shard.registerTerminal(SHARD, STORE, { terminalId: "till-1", tokenHash: hashSecret(TOKEN), publicKey });
  return { shard, till: { key: pair.privateKey, publicKey } };
}

/** One offline entry, as workers/ingest builds it. */
async function offline(
  shard: Shard,
  t: Till,
  seq: number,
  signedAt: number,
  body: Record<string, unknown> = sale(),
): Promise<IssueOutcome> {
  const signed = new Date(signedAt).toISOString();
  const text = offlineReceiptText({
    tenantId: STORE.tenantId,
    storeId: STORE.storeId,
    terminalId: "till-1",
    terminalSeq: seq,
    signedAt: signed,
    currency: String(body.currency),
    total: Number(body.total),
    bodyHash: canonicalHash(body),
  });
  const proof = { terminalSeq: seq, signedAt: signed, signature: await signText(t.key, text) };
  const whole = { ...body, offline: proof };
  const reply = await shard.issue({
    shard: SHARD,
    tokenHash: hashSecret(TOKEN),
    entries: [
      {
        idempotencyKey: `offline:${seq}`,
        bodyHash: canonicalHash(whole),
        receipt: parseReceipt(whole, Date.now()),
        offline: { ...proof, signedBodyHash: canonicalHash(body) },
      },
    ],
  });
  return reply.outcomes[0] as IssueOutcome;
}

describe("offline receipts on the shard", () => {
  it("answers a sequence for ever: past the keys' 24 h, across a restart, and refuses another body under it", async () => {
    const w = world();
    const { shard, till: t } = await till(w);
    const signedAt = w.now - HOUR;
    const first = issuedOf(await offline(shard, t, 1, signedAt));
    shard.mark(w.now);
    w.now += 3 * 24 * HOUR; // the idempotency keys are long gone
    const restarted = open(w);
    expect(await offline(restarted, t, 1, signedAt)).toEqual({ kind: "replayed", issued: first });
    expect(await offline(restarted, t, 1, w.now - HOUR, sale(999))).toEqual({ kind: "conflict" });
    const next = issuedOf(await offline(restarted, t, 2, w.now - HOUR));
    expect(parseCode(KEY, next.code)?.counter).toBe(2);
  });

  it("refuses a forged one and a terminal with no key, spending nothing", async () => {
    const w = world();
    const { shard } = await till(w);
    const stranger = (await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"])) as CryptoKeyPair;
    const forged = await offline(shard, { key: stranger.privateKey, publicKey: "" }, 1, w.now);
    expect(forged).toEqual({ kind: "offline_signature" });
    // The same terminal registered again without a key: no offline receipt checks.
    shard.registerTerminal(SHARD, STORE, { terminalId: "till-1", tokenHash: hashSecret(TOKEN) });
    expect(await offline(shard, { key: stranger.privateKey, publicKey: "" }, 1, w.now)).toEqual({
      kind: "offline_signature",
    });
    const online = issuedOf(await issue(shard, "online"));
    expect(parseCode(KEY, online.code)?.counter).toBe(1);
  });

  it("marks a late one at the commit, and counts gaps and late ones in the terminal's account", async () => {
    const w = world();
    const { shard, till: t } = await till(w);
    const late = issuedOf(await offline(shard, t, 1, w.now - 72 * HOUR - 1));
    const onTime = issuedOf(await offline(shard, t, 2, w.now - 72 * HOUR + 1));
    expect([late.late, onTime.late]).toEqual([true, false]);
    issuedOf(await offline(shard, t, 5, w.now));
    const { offline: account } = shard.stats();
    expect(account).toMatchObject({ late: 1, gaps: 2, backlog: 0, overBudget: 1 });
    expect(account.terminals[0]).toMatchObject({
      terminal: "acme/berlin-1/till-1",
      registered: 3,
      lastSeq: 5,
      gaps: 2,
    });
    // A gap filled later closes.
    issuedOf(await offline(shard, t, 3, w.now));
    issuedOf(await offline(shard, t, 4, w.now));
    expect(shard.stats().offline.gaps).toBe(0);
    w.now += 25 * HOUR; // a day after the late one: no longer over budget
    expect(shard.stats().offline.overBudget).toBe(0);
  });
});
