/**
 * Every shard's own account of its pipeline, for /v1/ops/pipeline, /metrics
 * and the console. Asked of the shards directly: with Postgres down every shard
 * up to SHARD_COUNT is asked (not only those with stores), and a shard that
 * cannot answer is listed as failing rather than failing the report.
 */

import { shardsInUse } from "../../db/shards.ts";
import type { ShardStatus } from "../../durable-objects/shard.ts";
import { describeError } from "../../kit/describe-error.ts";
import { type Ctx, pg } from "../http.ts";
import { logger } from "../request-context.ts";
import { shard, shardCount } from "../shards.ts";

export type ShardReport = { postgres: "ok" | "unreachable"; answered: ShardStatus[]; failed: number[] };

export async function shardReport(c: Ctx): Promise<ShardReport> {
  const used = await shardsInUse(pg(c).db).then(
    (shards) => ({ shards, postgres: "ok" as const }),
    (e: unknown) => {
      logger.error({ msg: "shard report: postgres failed", error: describeError(e) });
      return { shards: Array.from({ length: shardCount(c.env) }, (_, n) => n), postgres: "unreachable" as const };
    },
  );
  const answered: ShardStatus[] = [];
  const failed: number[] = [];
  await Promise.all(
    used.shards.map((n) =>
      shard(c.env, n)
        .stats()
        .then(
          (s) => {
            // Asked blindly (Postgres down), a shard that never issued is not worth a row.
            if (used.postgres === "ok" || s.issued > 0) answered.push(s);
          },
          (e: unknown) => {
            logger.error({ msg: "shard report: shard failed", shard: n, error: describeError(e) });
            failed.push(n);
          },
        ),
    ),
  );
  answered.sort((a, b) => a.shard - b.shard);
  return { postgres: used.postgres, answered, failed: failed.sort((a, b) => a - b) };
}
