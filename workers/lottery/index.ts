/**
 * The receipt lottery (contract v1.1): the operator creates and runs draws;
 * anyone reads them and checks a code. The formulas are core/lottery.ts; the
 * log's size at the close comes from each shard (durable-objects/cuts.ts) and
 * its root at that size from the log's tiles, so a run is the same whenever
 * it happens after the close.
 */
import { randomBytes } from "node:crypto";
import { ApiError, invalidCode, notFound, validationFailed } from "../../api/errors.ts";
import { encodeCode, groupCode, parseCode } from "../../core/code.ts";
import {
  type Boundary,
  type BoundaryLeaf,
  commitmentOf,
  countedTotal,
  isEligible,
  prizeFor,
  type ShardRoot,
  seedOf,
  winningNumbers,
} from "../../core/lottery.ts";
import type { Db } from "../../db/client.ts";
import {
  type Draw,
  drawsNotKept,
  findDraw,
  insertDraw,
  keepWinners,
  listDraws,
  recordResult,
  rulesOf,
  winners,
} from "../../db/lottery.ts";
import { shardsInUse } from "../../db/shards.ts";
import { describeError } from "../../kit/describe-error.ts";
import { toHex } from "../../tlog/merkle.ts";
import { hexList, inclusionProof, rootAt } from "../../tlog/proofs.ts";
import { type Ctx, pg, publicBaseUrl, receiptDbs } from "../http.ts";
import { router } from "../openapi.ts";
import { logger } from "../request-context.ts";
import { callShard, shard, shardCount } from "../shards.ts";
import { verifyCode } from "../shared/lookup.ts";
import { contentSecurityPolicy } from "../shared/page-style.ts";
import { tileReader } from "../shared/tiles.ts";
import { drawPage } from "./page.tsx";
import {
  checkCodeRoute,
  createDrawRoute,
  drawPageRoute,
  getDrawRoute,
  listDrawsRoute,
  runDrawRoute,
  winnersRoute,
} from "./routes.ts";

export const lottery = router();

/** What anyone may see of a draw: the reveal and the result only once it is drawn. */
export function publicDraw(d: Draw) {
  const base = {
    id: d.id,
    title: d.title,
    opensAt: d.opensAt,
    closesAt: d.closesAt,
    minTotal: d.minTotal,
    ...(d.currency ? { currency: d.currency } : {}),
    ...(d.tenants ? { tenants: d.tenants } : {}),
    prizes: d.prizes,
    commitment: d.commitment,
  };
  if (!d.result) return { ...base, status: "open" as const };
  return {
    ...base,
    status: "drawn" as const,
    drawnAt: d.result.drawnAt,
    reveal: Buffer.from(d.reveal).toString("hex"),
    seed: d.result.seed,
    shards: d.result.shards,
    ...(d.result.boundaries ? { boundaries: d.result.boundaries } : {}),
    winningNumbers: d.result.winning,
    winners: d.result.winners,
  };
}

/** Every shard that may hold receipts: those of the configured count and any a store sits on. */
async function allShards(c: Ctx): Promise<number[]> {
  const used = await shardsInUse(pg(c).db);
  return [...new Set([...Array.from({ length: shardCount(c.env) }, (_, n) => n), ...used])].sort((a, b) => a - b);
}

lottery.openapi(createDrawRoute, async (c) => {
  const input = c.req.valid("json");
  const closesAt = Date.parse(input.closesAt);
  const now = Date.now();
  if (closesAt <= now) throw validationFailed([{ path: "closesAt", message: "must be in the future" }]);
  if (await findDraw(pg(c).db, input.id)) throw new ApiError(409, "already_exists", `Draw ${input.id} already exists.`);
  // Every shard learns the close before the draw exists, so the commit that crosses it records the
  // log's size (a stray registration of a draw that then fails to be created costs one row).
  const shards = await allShards(c);
  const cuts = await Promise.all(shards.map((n) => callShard(n, () => shard(c.env, n).lotteryCut(n, closesAt))));
  const late = shards.filter((_, i) => cuts[i]?.state !== "pending");
  if (late.length) {
    // A shard whose clock is already past the close could not cut its log there.
    throw new ApiError(409, "too_late", `Shard ${late[0]} is already past closesAt; choose a later close.`);
  }
  const reveal = new Uint8Array(randomBytes(32));
  const created = await insertDraw(pg(c).db, {
    id: input.id,
    title: input.title,
    opensAt: new Date(now).toISOString(),
    closesAt: new Date(closesAt).toISOString(),
    minTotal: input.minTotal,
    currency: input.currency ?? null,
    tenants: input.tenants ?? null,
    prizes: input.prizes,
    reveal,
    commitment: toHex(commitmentOf(reveal)),
  });
  if (!created) throw new ApiError(409, "already_exists", `Draw ${input.id} already exists.`);
  return c.json({ draw: publicDraw(created) }, 201);
});

async function drawOr404(c: Ctx, id: string): Promise<Draw> {
  const d = await findDraw(pg(c).db, id);
  if (!d) throw notFound("Draw");
  return d;
}

/**
 * Each shard's size and root at the close, and what proves the size (#26): a
 * witnessed checkpoint covering the first leaf after the close, with that leaf
 * and the last one before it. Throws 503 while a shard cannot tell, Postgres
 * lacks receipts, or the close is not witnessed yet.
 */
async function cutsAtClose(c: Ctx, closesAt: number): Promise<{ roots: ShardRoot[]; boundaries: Boundary[] }> {
  const cuts = await Promise.all((await allShards(c)).map((n) => cutOf(c, n, closesAt)));
  return {
    roots: cuts.flatMap((x) => (x.root ? [x.root] : [])),
    boundaries: cuts.flatMap((x) => (x.boundary ? [x.boundary] : [])),
  };
}

async function cutOf(
  c: Ctx,
  n: number,
  closesAt: number,
): Promise<{ root: ShardRoot | null; boundary: Boundary | null }> {
  const stub = shard(c.env, n);
  const cut = await callShard(n, () => stub.lotteryCut(n, closesAt));
  if (cut.state === "unknown") {
    throw new ApiError(503, "unavailable", `Shard ${n} cannot tell its log's size at the close.`, { retryAfter: 60 });
  }
  if (cut.state === "pending") throw new ApiError(409, "not_closed", "The draw has not closed yet.");
  if (cut.size > 0 && cut.heldFrom !== null && cut.heldFrom <= cut.size) {
    throw new ApiError(503, "unavailable", `Shard ${n} has receipts from before the close Postgres lacks yet.`, {
      retryAfter: 5,
    });
  }
  const view = await callShard(n, () => stub.logView());
  if (view.size === 0) return { root: null, boundary: null };
  const witnessed = view.witnessed;
  if (!witnessed || witnessed.size < Math.min(view.size, cut.size + 1)) {
    throw new ApiError(503, "unavailable", `Shard ${n}'s log at the close is not witnessed yet.`, { retryAfter: 5 });
  }
  const read = tileReader(c.env, n, view);
  const leaf = async (index: number): Promise<BoundaryLeaf> => {
    const { codeFormat } = await callShard(n, () => stub.view(index + 1));
    const { receipt } = await verifyCode(c, encodeCode(c.env.CODE_KEY, { shard: n, counter: index + 1 }, codeFormat));
    if (receipt.status !== "valid") {
      throw new ApiError(
        503,
        "unavailable",
        `Shard ${n}'s entry ${index + 1} is ${receipt.status}: the close cannot be proven.`,
        {
          retryAfter: 60,
        },
      );
    }
    const inclusion = hexList(await inclusionProof(index, witnessed.size, read));
    return { index, receivedAt: receipt.receivedAt, hash: receipt.hash, inclusion };
  };
  const boundary: Boundary = {
    shard: n,
    size: cut.size,
    checkpoint: witnessed.note,
    last: cut.size > 0 ? await leaf(cut.size - 1) : null,
    next: witnessed.size > cut.size ? await leaf(cut.size) : null,
  };
  return { root: cut.size > 0 ? { shard: n, size: cut.size, root: await rootAt(cut.size, read) } : null, boundary };
}

lottery.openapi(runDrawRoute, async (c) => {
  const d = await drawOr404(c, c.req.valid("param").id);
  if (d.result) return c.json({ draw: publicDraw(d) }, 200);
  const closesAt = Date.parse(d.closesAt);
  if (Date.now() < closesAt) throw new ApiError(409, "not_closed", `The draw closes at ${d.closesAt}.`);
  const { roots: shards, boundaries } = await cutsAtClose(c, closesAt);
  const seed = seedOf(d.id, d.reveal, shards);
  const winning = winningNumbers(seed, d.prizes);
  const { count } = await winners(pg(c).db, receiptDbs(c), d, winning, "count");
  const stored = await recordResult(pg(c).db, d.id, {
    seed: toHex(seed),
    shards: shards.map((s) => ({ shard: s.shard, size: s.size, root: toHex(s.root) })),
    boundaries,
    winning,
    winners: count,
  });
  if (!stored?.result) throw notFound("Draw");
  // The list is written down while every ticket is in Postgres; if this fails, the daily cron does it.
  await keepWinners(pg(c).db, receiptDbs(c), { ...stored, result: stored.result }).catch((e: unknown) =>
    logger.error({ msg: "lottery winners not kept; the cron retries", draw: d.id, error: describeError(e) }),
  );
  return c.json({ draw: publicDraw(stored) }, 200);
});

lottery.openapi(listDrawsRoute, async (c) => {
  c.header("Cache-Control", "public, max-age=30");
  return c.json({ draws: (await listDraws(pg(c).db)).map(publicDraw) }, 200);
});

lottery.openapi(getDrawRoute, async (c) => {
  const d = await drawOr404(c, c.req.valid("param").id);
  c.header("Cache-Control", "public, max-age=30");
  return c.json({ draw: publicDraw(d) }, 200);
});

lottery.openapi(checkCodeRoute, async (c) => {
  const { id, code } = c.req.valid("param");
  const parts = parseCode(c.env.CODE_KEY, code);
  if (!parts) throw invalidCode();
  const d = await drawOr404(c, id);
  // A well-formed code never issued takes part in nothing; nor does a receipt that does not verify.
  const receipt = await verifyCode(c, parts.code).then(
    (v) => (v.receipt.status === "valid" ? v.receipt : null),
    (e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    },
  );
  const counted = receipt === null ? null : countedTotal(receipt, Date.parse(d.closesAt));
  const eligible =
    receipt !== null &&
    counted !== null &&
    isEligible(
      {
        receivedAt: Date.parse(receipt.receivedAt),
        total: counted,
        currency: receipt.currency,
        tenantId: receipt.tenant.id,
      },
      rulesOf(d),
    );
  const prize = eligible && d.result ? prizeFor(parts.code, d.result.winning) : null;
  c.header("Cache-Control", "public, max-age=30");
  const status = d.result ? ("drawn" as const) : ("open" as const);
  return c.json({ drawId: d.id, code: groupCode(parts.code), status, eligible, prize }, 200);
});

lottery.openapi(winnersRoute, async (c) => {
  const d = await drawOr404(c, c.req.valid("param").id);
  if (!d.result) throw new ApiError(409, "not_drawn", "The draw has not been run yet.");
  const q = c.req.valid("query");
  const { rows } = await winners(pg(c).db, receiptDbs(c), d, d.result.winning, q);
  const names = new Map(d.result.winning.map((w) => [w.prize, w.name]));
  c.header("Cache-Control", "no-store");
  return c.json({
    winners: rows.map((w) => ({ ...w, code: groupCode(w.code), prize: { prize: w.prize, name: names.get(w.prize) } })),
    next: rows.length === q.limit ? (rows.at(-1)?.code ?? null) : null,
  });
});

lottery.openapi(drawPageRoute, async (c) => {
  const d = await drawOr404(c, c.req.valid("param").id);
  const page = await drawPage(d, publicBaseUrl(c));
  c.header("Content-Security-Policy", contentSecurityPolicy(page.css));
  c.header("Cache-Control", "public, max-age=30");
  return c.html(page.html, 200);
});

/** Keeps the winners of every drawn draw that has not kept them (run before they were kept, or keeping failed). */
export async function keepDrawnWinners(db: Db, dbs: Db[]): Promise<number> {
  let kept = 0;
  for (const id of await drawsNotKept(db)) {
    const d = await findDraw(db, id);
    if (d?.result) kept += await keepWinners(db, dbs, { ...d, result: d.result });
  }
  return kept;
}
