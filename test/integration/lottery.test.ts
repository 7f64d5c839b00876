/**
 * The receipt lottery end to end: a draw closes, only eligible receipts win,
 * the result survives a restart of the shards and a re-run, the public answer
 * recomputes, the receipt page shows a win, and one receipt changed before the
 * close would have changed the seed.
 */
import {
  createExecutionContext,
  env,
  evictDurableObject,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { parseCode } from "../../core/code.ts";
import { commitmentOf, prizeFor, seedOf, winningNumbers } from "../../core/lottery.ts";
import { openPg } from "../../db/client.ts";
import { drawsNotKept } from "../../db/lottery.ts";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import { fromHex, leafHash, rootOfLeafHashes, toHex } from "../../tlog/merkle.ts";
import { leafAt, rootAt } from "../../tlog/proofs.ts";
import { archiveDay } from "../../workers/archive/archive-day.ts";
import { app } from "../../workers/index.ts";
import { keepDrawnWinners } from "../../workers/lottery/index.ts";
import { shard } from "../../workers/shards.ts";
import { tileReader } from "../../workers/shared/tiles.ts";
import {
  call,
  compact,
  eventually,
  type Fixture,
  fixture,
  issue,
  OPERATOR_TOKEN,
  sale,
  sqlQuery,
  tamper,
  useShardBand,
} from "./helpers.ts";
import { oneSale, openShard } from "./shard-ports.ts";

useShardBand(15);

/** The lottery sweeps every shard up to SHARD_COUNT: 16 here, plus every shard a store sits on. */
const lotteryEnv = { ...env, SHARD_COUNT: "16" };
async function lot<T = Record<string, unknown>>(method: string, path: string, body?: unknown, token?: string) {
  const ctx = createExecutionContext();
  const res = await app.request(
    `https://tillproof.test${path}`,
    {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    },
    lotteryEnv,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (text.startsWith("{") ? JSON.parse(text) : {}) as T, text };
}

type PublicDraw = {
  id: string;
  status: string;
  commitment: string;
  reveal?: string;
  seed?: string;
  opensAt: string;
  closesAt: string;
  shards?: { shard: number; size: number; root: string }[];
  winningNumbers?: { prize: number; name: string; suffixes: string[] }[];
  winners?: number;
  prizes: { name: string; digits: number; numbers: number }[];
};

let f: Fixture;
let other: Fixture;
let drawId: string;
let drawn: PublicDraw;
const sent: { code: string; eligibleByRule: boolean }[] = [];

beforeAll(async () => {
  f = await fixture();
  other = await fixture();
  drawId = `draw-${crypto.randomUUID().slice(0, 8)}`;
  const closesAt = new Date(Date.now() + 3_000).toISOString();
  const created = await lot<{ draw: PublicDraw }>(
    "POST",
    "/v1/lottery/draws",
    {
      id: drawId,
      title: "Test draw",
      closesAt,
      minTotal: 500,
      currency: "EUR",
      tenants: [f.tenantId],
      // 24 one-character endings: about half of all codes win, so a handful of receipts has winners and losers.
      prizes: [
        { name: "Bicycle", digits: 1, numbers: 24 },
        { name: "Coffee", digits: 2, numbers: 100 },
      ],
    },
    OPERATOR_TOKEN,
  );
  expect(created.status).toBe(201);
  expect(created.body.draw.status).toBe("open");
  expect(created.body.draw.reveal).toBeUndefined();
  // Eligible: our tenant, EUR, total ≥ 500. Not: another tenant, another currency, too small.
  for (let i = 0; i < 12; i++) {
    const r = await issue(f.token, sale());
    sent.push({ code: r.body.code, eligibleByRule: true });
  }
  for (const [token, body] of [
    [other.token, sale()],
    [f.token, sale({ currency: "CHF" })],
    [
      f.token,
      sale({
        items: [{ name: "Gum", quantity: 1, unitPrice: 100, total: 100 }],
        total: 100,
        payments: [{ method: "cash", amount: 100 }],
      }),
    ],
  ] as const) {
    const r = await issue(token, body);
    expect(r.status).toBe(201);
    sent.push({ code: r.body.code, eligibleByRule: false });
  }
  await new Promise((ok) => setTimeout(ok, Math.max(0, Date.parse(closesAt) - Date.now() + 50)));
  // After the close: not eligible, however it looks.
  const late = await issue(f.token, sale());
  sent.push({ code: late.body.code, eligibleByRule: false });
  // A restart between the close and the run changes nothing: the shards' sizes at the close are durable.
  await evictDurableObject(shard(env, Number(f.token.split("_")[1])));
  const run = await eventually(async () => {
    const r = await lot<{ draw: PublicDraw }>("POST", `/v1/lottery/draws/${drawId}/run`, undefined, OPERATOR_TOKEN);
    return r.status === 200 ? r : null; // 503 while receipts from before the close are on their way to Postgres
  }, 30_000);
  drawn = run.body.draw;
}, 90_000);

describe("a draw", () => {
  it("is drawn once: the result is public, recomputes from its own answer, and a re-run returns it unchanged", async () => {
    expect(drawn.status).toBe("drawn");
    const reveal = fromHex(drawn.reveal ?? "");
    expect(toHex(commitmentOf(reveal))).toBe(drawn.commitment);
    const shards = (drawn.shards ?? []).map((s) => ({ shard: s.shard, size: s.size, root: fromHex(s.root) }));
    const seed = seedOf(drawId, reveal, shards);
    expect(toHex(seed)).toBe(drawn.seed);
    expect(winningNumbers(seed, drawn.prizes)).toEqual(drawn.winningNumbers);
    const again = await lot<{ draw: PublicDraw }>("POST", `/v1/lottery/draws/${drawId}/run`, undefined, OPERATOR_TOKEN);
    expect(again.status).toBe(200);
    expect(again.body.draw).toEqual(drawn);
    const read = await lot<{ draw: PublicDraw }>("GET", `/v1/lottery/draws/${drawId}`);
    expect(read.body.draw).toEqual(drawn);
  });

  it("takes each shard's size at the close and its root at that size from the log", async () => {
    const n = Number(f.token.split("_")[1]);
    const entry = drawn.shards?.find((s) => s.shard === n);
    const lastIn = Math.max(
      ...sent.filter((s) => s.code !== sent.at(-1)?.code).map((s) => parseCode("test-code-key", s.code)?.counter ?? 0),
    );
    const late = parseCode("test-code-key", sent.at(-1)?.code ?? "")?.counter ?? 0;
    expect(entry?.size).toBeGreaterThanOrEqual(lastIn);
    expect(entry?.size).toBeLessThan(late);
    const view = await shard(env, n).logView();
    expect(toHex(await rootAt(entry?.size ?? 0, tileReader(env, n, view)))).toBe(entry?.root);
  });

  it("lets only eligible receipts win, and says so to anyone who checks a code", async () => {
    const winning = drawn.winningNumbers ?? [];
    let winners = 0;
    let losers = 0;
    for (const s of sent) {
      const check = await lot<{ eligible: boolean; status: string; prize: { prize: number } | null }>(
        "GET",
        `/v1/lottery/draws/${drawId}/check/${s.code}`,
      );
      expect(check.status).toBe(200);
      expect(check.body.status).toBe("drawn");
      expect(check.body.eligible).toBe(s.eligibleByRule);
      const wins = prizeFor(compact(s.code), winning);
      expect(check.body.prize).toEqual(s.eligibleByRule ? wins : null);
      if (s.eligibleByRule) wins ? winners++ : losers++;
    }
    expect(winners).toBeGreaterThan(0);
    expect(losers).toBeGreaterThan(0);
    // The operator's list holds exactly the eligible winners, found by suffix.
    const list = await lot<{ winners: { code: string; prize: { prize: number } }[] }>(
      "GET",
      `/v1/lottery/draws/${drawId}/winners?limit=1000`,
      undefined,
      OPERATOR_TOKEN,
    );
    const ours = list.body.winners.filter((w) => sent.some((s) => s.code === w.code));
    expect(ours.map((w) => w.code).sort()).toEqual(
      sent
        .filter((s) => s.eligibleByRule && prizeFor(compact(s.code), winning))
        .map((s) => s.code)
        .sort(),
    );
    expect(drawn.winners).toBe(list.body.winners.length);
    expect((await lot("GET", `/v1/lottery/draws/${drawId}/check/not-a-code`)).status).toBe(400);
    // Well-formed and keyed, never issued: takes part in nothing.
    const { encodeCode } = await import("../../core/code.ts");
    const never = encodeCode("test-code-key", { shard: 15, counter: 999_999 });
    const unknown = await lot<{ eligible: boolean; prize: unknown }>(
      "GET",
      `/v1/lottery/draws/${drawId}/check/${never}`,
    );
    expect([unknown.status, unknown.body.eligible, unknown.body.prize]).toEqual([200, false, null]);
    expect((await lot("GET", `/v1/lottery/draws/${drawId}/winners`)).status).toBe(401);
  });

  it("shows the receipt page's reader that the receipt won, and the draw's page its winning numbers", async () => {
    const winning = drawn.winningNumbers ?? [];
    const won = sent.find((s) => s.eligibleByRule && prizeFor(compact(s.code), winning));
    const page = await call("GET", `/r/${won?.code}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("Receipt lottery");
    expect(page.text).toMatch(/this receipt won (Bicycle|Coffee)!/);
    const lost = sent.find((s) => s.eligibleByRule && !prizeFor(compact(s.code), winning));
    expect((await call("GET", `/r/${lost?.code}`)).text).toContain("drawn; this receipt did not win.");
    const drawPage = await lot("GET", `/lottery/${drawId}`);
    expect(drawPage.status).toBe(200);
    for (const w of winning) for (const s of w.suffixes) expect(drawPage.text).toContain(s);
    expect(drawPage.text).toContain(drawn.seed ?? "none");
  });

  it("would have had another seed had one receipt before the close been different", async () => {
    const n = Number(f.token.split("_")[1]);
    const entry = drawn.shards?.find((s) => s.shard === n);
    const size = entry?.size ?? 0;
    const view = await shard(env, n).logView();
    const read = tileReader(env, n, view);
    // The shard's leaves up to its size at the close, rebuilt into its root …
    const leaves = await Promise.all(Array.from({ length: size }, (_, i) => leafAt(i, size, read)));
    expect(toHex(rootOfLeafHashes(leaves))).toBe(entry?.root);
    // … and with one of our receipts changed (its record hash differs), another root and another seed.
    const ours = parseCode("test-code-key", sent[0]?.code ?? "")?.counter ?? 1;
    const changed = [...leaves];
    changed[ours - 1] = leafHash(new TextEncoder().encode("a different receipt"));
    const reveal = fromHex(drawn.reveal ?? "");
    const shards = (drawn.shards ?? []).map((s) => ({ shard: s.shard, size: s.size, root: fromHex(s.root) }));
    const altered = shards.map((s) => (s.shard === n ? { ...s, root: rootOfLeafHashes(changed) } : s));
    expect(toHex(seedOf(drawId, reveal, altered))).not.toBe(drawn.seed);
    expect(toHex(seedOf(drawId, reveal, shards))).toBe(drawn.seed);
  });
});

describe("draw rules", () => {
  it("counts a receipt that does not verify (edited in Postgres) out of every draw", async () => {
    const victim = sent.find((s) => s.eligibleByRule)?.code ?? "";
    await tamper(victim, "total = total + 1");
    const check = await lot<{ eligible: boolean; prize: unknown }>(
      "GET",
      `/v1/lottery/draws/${drawId}/check/${victim}`,
    );
    expect(check.status).toBe(200);
    expect([check.body.eligible, check.body.prize]).toEqual([false, null]);
    expect((await call("GET", `/r/${victim}`)).text).not.toContain("Receipt lottery");
  });

  it("refuses a close in the past, a second draw with the same id, a run before the close, and non-operators", async () => {
    const body = {
      id: `d-${crypto.randomUUID().slice(0, 8)}`,
      title: "x",
      prizes: [{ name: "p", digits: 4, numbers: 1 }],
    };
    const past = await lot<{ error: { code: string } }>(
      "POST",
      "/v1/lottery/draws",
      { ...body, closesAt: new Date(Date.now() - 1000).toISOString() },
      OPERATOR_TOKEN,
    );
    expect(past.status).toBe(400);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await lot("POST", "/v1/lottery/draws", { ...body, closesAt: future })).status).toBe(401);
    expect((await lot("POST", "/v1/lottery/draws", { ...body, closesAt: future }, OPERATOR_TOKEN)).status).toBe(201);
    expect((await lot("POST", "/v1/lottery/draws", { ...body, closesAt: future }, OPERATOR_TOKEN)).status).toBe(409);
    const early = await lot<{ error: { code: string } }>(
      "POST",
      `/v1/lottery/draws/${body.id}/run`,
      undefined,
      OPERATOR_TOKEN,
    );
    expect(early.status).toBe(409);
    const open = await lot<{ draw: PublicDraw }>("GET", `/v1/lottery/draws/${body.id}`);
    expect(open.body.draw.status).toBe("open");
    expect(open.body.draw.reveal).toBeUndefined();
    expect(open.text).not.toContain("seed");
    // A drawn result is final in Postgres itself.
    await expect(sqlQuery("UPDATE lottery_draws SET winners = 0 WHERE id = $1", [drawId])).rejects.toThrow(/final/);
  });

  it("stamps receipts in log order even when the clock steps back, so a close cuts the log once", async () => {
    const g = await fixture();
    const n = Number(g.token.split("_")[1]);
    await runInDurableObject(shard(env, n), async (_: StoreShard, state) => {
      let now = Date.now() + 60_000;
      const s = openShard(state.storage, { clock: () => now });
      const closesAt = now + 5_000;
      expect(s.lotteryCut(n, closesAt).state).toBe("pending");
      await s.issue(oneSale(n, g.token, sale()));
      const before = s.log.size;
      now += 10_000; // past the close
      await s.issue(oneSale(n, g.token, sale()));
      now -= 20_000; // the clock steps back before the close
      await s.issue(oneSale(n, g.token, sale()));
      expect(s.log.lastReceivedAt).toBe(closesAt + 5_000); // never earlier than the receipt before
      expect(s.lotteryCut(n, closesAt)).toMatchObject({ state: "cut", size: before });
      // The same after a restart.
      expect(openShard(state.storage, { clock: () => now }).lotteryCut(n, closesAt)).toMatchObject({
        state: "cut",
        size: before,
      });
    });
    await evictDurableObject(shard(env, n));
  });

  it("keeps a close cut at the run when the clock then steps back before it", async () => {
    const g = await fixture();
    const n = Number(g.token.split("_")[1]);
    await runInDurableObject(shard(env, n), async (_: StoreShard, state) => {
      let now = Date.now() + 120_000;
      const s = openShard(state.storage, { clock: () => now });
      await s.issue(oneSale(n, g.token, sale()));
      const closesAt = now + 1_000;
      expect(s.lotteryCut(n, closesAt).state).toBe("pending");
      now = closesAt + 500; // the run comes; no receipt crossed the close
      expect(s.lotteryCut(n, closesAt)).toMatchObject({ state: "cut", size: s.log.size });
      now = closesAt - 10_000; // then the clock steps back before the close
      await s.issue(oneSale(n, g.token, sale()));
      expect(s.log.lastReceivedAt).toBeGreaterThanOrEqual(closesAt); // not eligible: the seed did not count it
      // After a restart too.
      const again = openShard(state.storage, { clock: () => now });
      await again.issue(oneSale(n, g.token, sale()));
      expect(again.log.lastReceivedAt).toBeGreaterThanOrEqual(closesAt);
    });
    await evictDurableObject(shard(env, n));
  });

  it("refuses a draw whose close a shard's clock has already passed", async () => {
    // A close 1 ms ahead: by the time the shards are asked, it has passed.
    const res = await lot<{ error: { code: string } }>(
      "POST",
      "/v1/lottery/draws",
      {
        id: `late-${crypto.randomUUID().slice(0, 8)}`,
        title: "Too late",
        closesAt: new Date(Date.now() + 1).toISOString(),
        prizes: [{ name: "p", digits: 4, numbers: 1 }],
      },
      OPERATOR_TOKEN,
    );
    expect([400, 409]).toContain(res.status);
  });
});

describe("winners and the archive", () => {
  type Listed = { winners: { code: string; prize: { prize: number } }[]; next: string | null };
  const listed = async () =>
    (await lot<Listed>("GET", `/v1/lottery/draws/${drawId}/winners?limit=100`, undefined, OPERATOR_TOKEN)).body;

  it("writes a draw's winners down at its run, so the list outlives the days it was found in", async () => {
    const [kept] = await sqlQuery<{ winners: string }>("SELECT winners FROM lottery_winners_kept WHERE draw_id = $1", [
      drawId,
    ]);
    expect(Number(kept?.winners)).toBe(drawn.winners);
    expect(drawn.winners).toBeGreaterThan(0);
    const rows = await sqlQuery<{ code: string }>("SELECT code FROM lottery_winners WHERE draw_id = $1 ORDER BY code", [
      drawId,
    ]);
    expect((await listed()).winners.map((w) => compact(w.code))).toEqual(rows.map((r) => r.code));
    // The runtime role may add to the list, never change it.
    const pg = openPg(env);
    try {
      await expect(pg.pool.query("DELETE FROM lottery_winners WHERE draw_id = $1", [drawId])).rejects.toThrow(
        /permission denied/,
      );
      // Nor add a winner to a list once it is kept.
      await expect(
        pg.pool.query(
          `INSERT INTO lottery_winners (draw_id, code, prize, tenant_id, store_id, total, currency, received_at)
           VALUES ($1, 'FAKE0000000000000000', 0, $2, 'x', 100000, 'EUR', now())`,
          [drawId, f.tenantId],
        ),
      ).rejects.toThrow(/the list is final/);
    } finally {
      await pg.end();
    }
  });

  it("holds a draw's days in Postgres until its winners are kept, and keeps a drawn draw's by the daily cron", async () => {
    // By code and prize: an earlier test edited a winner's total in Postgres since the run.
    const wins = async () => (await listed()).winners.map((w) => [w.code, w.prize.prize]);
    const before = await wins();
    // A draw run by an earlier release kept no list: forget this one's, as the owner.
    await sqlQuery("DELETE FROM lottery_winners_kept WHERE draw_id = $1", [drawId]);
    await sqlQuery("DELETE FROM lottery_winners WHERE draw_id = $1", [drawId]);
    const pg = openPg(env);
    try {
      expect(await drawsNotKept(pg.db)).toContain(drawId);
      // A day the draw covers (a month on: no partition is touched, whatever the answer).
      const later = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
      const held = await archiveDay(env, pg.db, later, Date.now() + 60_000);
      expect(held).toMatchObject({ state: "held", written: 0, dropped: 0 });
      expect(held.detail).toMatch(/lottery draw/);
      expect(await sqlQuery("SELECT 1 FROM archive_days WHERE day = $1::date", [later])).toEqual([]);
      // The cron keeps it again, to the same list.
      await keepDrawnWinners(pg.db, [pg.db]);
      expect(await drawsNotKept(pg.db)).not.toContain(drawId);
    } finally {
      await pg.end();
    }
    expect(await wins()).toEqual(before);
  });
});
