/**
 * The consumer's drain over one database and over two (DATABASE_URLS, docs/scale.md §6a):
 * the same backlog rows under fresh codes, in the consumer's batches and with the same number
 * of batches in flight, written by the product's statement (db/receipts.ts insertReceipts)
 * either all into the bench's database or, routed by each code's shard, half into a second
 * database on the same server. Both variants alternate for `rounds`, from one run.
 */
import pg from "pg";
import { canonicalJson } from "../../../../core/canonical.ts";
import { encodeCode } from "../../../../core/code.ts";
import type { OutboxReceipt } from "../../../../core/outbox.ts";
import type { ChainRecord } from "../../../../core/receipt.ts";
import { insertReceipts } from "../../../../db/receipts.ts";
import { nodeDb } from "../../db.ts";
import { applyMigrations } from "../../stack/migrate.ts";
import { pool } from "../fleet.ts";
import { type BenchRun, round } from "../run.ts";

const IN_FLIGHT = 4;
const SHARDS = 8;

export type DrainOverDatabases = { rows: number; batch: number; one: number[]; two: number[]; ratio: number };

export async function drainOverDatabases(
  b: BenchRun,
  records: { record: ChainRecord; hash: string }[],
  batch: number,
  rounds = 2,
): Promise<DrainOverDatabases> {
  b.say(`the consumer's drain over one database and over two, ${rounds} rounds of each (same rows, fresh codes)`);
  const second = new URL(b.o.db.url);
  const name = `${second.pathname.slice(1)}_two`;
  const admin = new pg.Client({ connectionString: b.o.db.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  second.pathname = `/${name}`;
  b.o.cleanup.add("drop the second bench database", async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end();
  });
  await applyMigrations(second.toString());
  const clients = await Promise.all(
    [b.o.db.url, second.toString()].flatMap((url) =>
      Array.from({ length: IN_FLIGHT }, async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    ),
  );
  b.o.cleanup.add("drain clients", () => Promise.all(clients.map((c) => c.end().catch(() => {}))));
  let counter = 0;
  /** The backlog under fresh codes over SHARDS shards (new to every unique key), in consumer batches per shard. */
  const fresh = (): { shard: number; rows: OutboxReceipt[] }[] => {
    const rows = records.map(({ record, hash }, i) => {
      const shard = i % SHARDS;
      const c = ++counter;
      const code = encodeCode("bench-drain", { shard: 1000 + shard, counter: c });
      return {
        shard,
        r: { counter: c, hash, record: canonicalJson({ ...record, code, storeId: `${record.storeId}-d${c}` }) },
      };
    });
    const batches: { shard: number; rows: OutboxReceipt[] }[] = [];
    for (let s = 0; s < SHARDS; s++) {
      const mine = rows.filter((x) => x.shard === s).map((x) => x.r);
      for (let i = 0; i < mine.length; i += batch) batches.push({ shard: s, rows: mine.slice(i, i + batch) });
    }
    return batches;
  };
  // Each batch holds one shard's receipts; shards 0-3 are the first database's, 4-7 the second's.
  const drain = async (databases: 1 | 2) => {
    const batches = fresh();
    const databaseOf = (shard: number) => (databases === 1 || shard < SHARDS / 2 ? 0 : 1);
    const queues = [0, 1].map((d) => batches.filter((x) => databaseOf(x.shard) === d).map((x) => x.rows));
    const t = performance.now();
    await Promise.all(
      queues.map((q, d) => {
        const inFlight = databases === 1 ? IN_FLIGHT : IN_FLIGHT / 2;
        const mine = clients.slice(d * IN_FLIGHT, d * IN_FLIGHT + inFlight);
        let next = 0;
        return pool(mine, inFlight, async (client) => {
          while (next < q.length) {
            const work = q[next++] as OutboxReceipt[];
            await insertReceipts(nodeDb(client), work);
          }
        });
      }),
    );
    return records.length / ((performance.now() - t) / 1000);
  };
  const one: number[] = [];
  const two: number[] = [];
  for (let r = 0; r < rounds; r++) {
    one.push(await drain(1));
    two.push(await drain(2));
  }
  b.ownStatements += (one.length + two.length) * Math.ceil(records.length / batch) * 4;
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ratio = mean(two) / mean(one);
  b.say(
    `  one database ${one.map((x) => round(x, 0)).join(" / ")} rows/s, two ${two.map((x) => round(x, 0)).join(" / ")}: ×${round(ratio, 2)}`,
  );
  return { rows: records.length, batch, one, two, ratio };
}
