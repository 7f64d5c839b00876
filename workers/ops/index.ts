/** Health, pipeline progress and the API description. */
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { type AppEnv, pg, requireOperator } from "../http.ts";
import { callShard, shard, shardCount } from "../shards.ts";

export const ops = new Hono<AppEnv>();

ops.get("/healthz", async (c) => {
  try {
    await pg(c).db.execute(sql`SELECT 1`);
    return c.json({ ok: true, checks: { postgres: "ok" } });
  } catch (e) {
    console.error(JSON.stringify({ msg: "healthz: postgres failed", error: String(e) }));
    c.header("Retry-After", "5");
    return c.json({ ok: false, checks: { postgres: "unreachable" } }, 503);
  }
});

ops.get("/v1/ops/pipeline", requireOperator, async (c) => {
  const n = shardCount(c.env);
  const shards = await Promise.all(
    Array.from({ length: n }, (_, i) => callShard(i, () => shard(c.env, i).stats())),
  );
  const used = shards.map((s, i) => ({ ...s, shard: i })).filter((s) => s.issued > 0);
  const sum = (k: "issued" | "enqueued" | "persisted" | "unpersisted") => used.reduce((t, s) => t + s[k], 0);
  const ages = used.map((s) => s.oldestUnpersistedAgeMs ?? 0);
  return c.json({
    shardCount: n,
    totals: {
      issued: sum("issued"),
      enqueued: sum("enqueued"),
      persisted: sum("persisted"),
      unpersisted: sum("unpersisted"),
      oldestUnpersistedAgeMs: ages.length ? Math.max(...ages) : 0,
    },
    shards: used,
  });
});
