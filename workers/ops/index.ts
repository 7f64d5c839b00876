/** Health and pipeline progress. */
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { readConfig } from "../../core/config.ts";
import { describeError } from "../../core/log.ts";
import { shardsInUse } from "../../db/shards.ts";
import type { ShardStats } from "../../durable-objects/pump.ts";
import { checkSecrets } from "../config-check.ts";
import { type AppEnv, type Ctx, pg, requireOperator } from "../http.ts";
import { shard, shardCount } from "../shards.ts";
import { openApiDocument } from "./openapi.ts";

export const ops = new Hono<AppEnv>();

/**
 * Postgres's health as this isolate last saw it: a good answer is reused for
 * 5 s and a bad one for 1 s, so a flood of anonymous /healthz requests costs
 * Postgres at most one connection per isolate per few seconds. Keyed by the
 * database URL the check ran against.
 */
const HEALTH_OK_MS = 5_000;
const HEALTH_BAD_MS = 1_000;
let lastHealth: { url: string; at: number; postgres: string } | null = null;

async function postgresHealth(c: Ctx): Promise<string> {
  const now = Date.now();
  const last = lastHealth;
  if (
    last &&
    last.url === c.env.DATABASE_URL &&
    now - last.at < (last.postgres === "ok" ? HEALTH_OK_MS : HEALTH_BAD_MS)
  ) {
    return last.postgres;
  }
  const postgres = await pg(c)
    .db.execute(sql`SELECT 1`)
    .then(
      () => "ok",
      (e: unknown) => {
        console.error(JSON.stringify({ msg: "healthz: postgres failed", error: describeError(e) }));
        return "unreachable";
      },
    );
  lastHealth = { url: c.env.DATABASE_URL, at: now, postgres };
  return postgres;
}

ops.get("/healthz", async (c) => {
  const postgres = await postgresHealth(c);
  const { codeKey, logKey } = await checkSecrets(c.env);
  const { problems } = readConfig(c.env);
  const checks = { postgres, codeKey, logKey, config: problems.length ? problems.join("; ") : "ok" };
  const ok = Object.values(checks).every((v) => v === "ok");
  if (!ok) c.header("Retry-After", "5");
  return c.json({ ok, checks }, ok ? 200 : 503);
});

/**
 * Per shard: issued / enqueued / persisted and the age of the oldest receipt
 * Postgres lacks. Asked of the shards themselves, so it works with Postgres
 * down (then every shard up to SHARD_COUNT is asked, not only those with
 * stores); a shard that cannot answer is one row saying so.
 */
ops.get("/v1/ops/pipeline", requireOperator, async (c) => {
  const used = await shardsInUse(pg(c).db).then(
    (shards) => ({ shards, postgres: "ok" }),
    (e: unknown) => {
      console.error(JSON.stringify({ msg: "pipeline: postgres failed", error: describeError(e) }));
      return { shards: Array.from({ length: shardCount(c.env) }, (_, n) => n), postgres: "unreachable" };
    },
  );
  const rows = await Promise.all(
    used.shards.map((n) =>
      shard(c.env, n)
        .stats()
        .then(
          (s): ShardRow => s,
          (e: unknown): ShardRow => {
            console.error(JSON.stringify({ msg: "pipeline: shard failed", shard: n, error: describeError(e) }));
            return { shard: n, error: "unreachable" };
          },
        ),
    ),
  );
  const answered = rows.filter((r): r is ShardStats => !("error" in r));
  // With Postgres down every shard is asked: keep only those that ever issued, and those that failed.
  const shards = used.postgres === "ok" ? rows : rows.filter((r) => "error" in r || r.issued > 0);
  const sum = (k: "issued" | "enqueued" | "persisted" | "unpersisted" | "messagesSent") =>
    answered.reduce((t, s) => t + s[k], 0);
  return c.json({
    shardCount: shardCount(c.env),
    postgres: used.postgres,
    totals: {
      issued: sum("issued"),
      enqueued: sum("enqueued"),
      persisted: sum("persisted"),
      unpersisted: sum("unpersisted"),
      messagesSent: sum("messagesSent"),
      oldestUnpersistedAgeMs: Math.max(0, ...answered.map((s) => s.oldestUnpersistedAgeMs ?? 0)),
    },
    shards,
  });
});

type ShardRow = ShardStats | { shard: number; error: string };

ops.get("/openapi.json", (c) => c.json(openApiDocument()));
