/**
 * Persistence: Postgres's receipts table is locked while 20,000 receipts are
 * issued through /v1/receipts/batch, so the consumer waits; verify is timed
 * while the shard alone holds them; then the lock goes and the consumer's
 * drain is timed against a raw COPY and the product's INSERT from Node.
 */
import pg from "pg";
import { canonicalJson } from "../../../../core/canonical.ts";
import { encodeCode } from "../../../../core/code.ts";
import { insertReceipts, type RecordRow, recordColumns, recordFromRow } from "../../../../db/receipts.ts";
import { nodeDb } from "../../db.ts";
import { COPY_COLUMNS, copyFrom, copyText } from "../copy.ts";
import { type Fleet, pool, type Terminal } from "../fleet.ts";
import { type BenchRun, round } from "../run.ts";
import { drainOverDatabases } from "./databases.ts";

export const BACKLOG = 20_000;

export async function persistence(b: BenchRun, fleets: { multi: Fleet; shards: number[] }) {
  const { shards } = fleets;
  const pBacklog0 = await b.pipeline();
  const tallyB0 = await b.tally(shards);
  const { unlock, backlogCodes, batchMs, batchErrors } = await issueWhileLocked(b, fleets.multi);
  const { verifyFresh, freshCheck } = await verifyUnpersisted(b, backlogCodes);
  const drainStats = await timeDrain(b, backlogCodes, unlock);
  const pBacklog1 = await b.pipeline();
  const tallyB1 = await b.tally(shards);
  const backlogAlarm =
    tallyB0?.methods.alarm && tallyB1?.methods.alarm
      ? {
          calls: tallyB1.methods.alarm.calls - tallyB0.methods.alarm.calls,
          rowsRead: tallyB1.methods.alarm.rowsRead - tallyB0.methods.alarm.rowsRead,
        }
      : null;
  const backlogMessages = pBacklog1.messagesSent - pBacklog0.messagesSent;
  const copyStats = await rawCopy(b, backlogCodes);
  const insertStats = await productInsert(b, backlogCodes, drainStats.drained, drainStats.perInsert.length);
  const overDatabases = await drainOverDatabases(b, insertStats.records, insertStats.insertBatch);
  return {
    backlogCodes,
    batchMs,
    batchErrors,
    verifyFresh,
    freshCheck,
    ...drainStats,
    backlogMessages,
    backlogAlarm,
    ...copyStats,
    insertRate: insertStats.insertRate,
    insertBatch: insertStats.insertBatch,
    insertMs: insertStats.insertMs,
    overDatabases,
  };
}

/** Locks Postgres's receipts table (so the consumer waits) and issues the backlog through /v1/receipts/batch. */
async function issueWhileLocked(b: BenchRun, fleet: Fleet) {
  b.say(`persistence: receipts table locked; issuing ${BACKLOG} receipts via /v1/receipts/batch (the consumer waits)`);
  const lock = await b.sql.connect();
  let locked = true;
  const unlock = async () => {
    if (!locked) return;
    locked = false;
    await lock.query("COMMIT").catch(() => {});
    lock.release();
  };
  b.o.cleanup.add("receipts lock", unlock);
  await lock.query("BEGIN");
  await lock.query("LOCK TABLE receipts IN EXCLUSIVE MODE");
  b.ownStatements += 2;
  const backlogCodes: string[] = [];
  const batches = Array.from({ length: BACKLOG / 100 }, (_, i) => i);
  const tbatch = Date.now();
  let batchErrors = 0;
  await pool(batches, 8, async (i) => {
    const t = fleet.terminals[i % fleet.terminals.length] as Terminal;
    const entries: string[] = [];
    for (let k = 0; k < 100; k++) {
      entries.push(b.sales.entry(i * 100 + k, b.nextKey(), Date.now() - 60_000));
    }
    const res = await fetch(`${b.base}/v1/receipts/batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json" },
      body: `{"receipts":[${entries.join(",")}]}`,
    });
    if (res.status !== 200) {
      batchErrors++;
      await res.text();
      return;
    }
    for (const e of ((await res.json()) as { results: { status: number; receipt?: { code: string } }[] }).results) {
      if (e.status === 201 && e.receipt) {
        backlogCodes.push(e.receipt.code);
        b.issued201++;
      } else batchErrors++;
    }
  });
  const batchMs = Date.now() - tbatch;
  b.say(
    `  ${backlogCodes.length} issued in ${batchMs} ms (${round(backlogCodes.length / (batchMs / 1000), 0)} receipts/s through the batch endpoint), ${batchErrors} errors`,
  );

  return { unlock, backlogCodes, batchMs, batchErrors };
}

/** Verify while nothing of the backlog is in Postgres: a Postgres miss, then the shard. */
async function verifyUnpersisted(b: BenchRun, backlogCodes: string[]) {
  b.say("verify, not yet persisted (served by the shard): GET /v1/verify/{code}, saturation");
  let unpersistedSeen = 0;
  let persistedSeen = 0;
  const pick = (codes: string[]) => () => ({
    method: "GET" as const,
    path: `/v1/verify/${codes[Math.floor(b.r() * codes.length)]}`,
  });
  const verifyFresh = await b.phase({
    label: "verify, unpersisted",
    url: b.base,
    connections: 8,
    durationSec: Math.max(5, b.o.phaseSec - 2),
    maxRequests: 100_000,
    next: pick(backlogCodes),
    onBody: (status, body) => {
      if (status !== 200) return;
      if (body.includes('"persisted":false')) unpersistedSeen++;
      else persistedSeen++;
    },
  });
  const freshCheck = { unpersisted: unpersistedSeen, persisted: persistedSeen };

  return { verifyFresh, freshCheck };
}

/** Releases the lock and times the consumer's drain of the backlog, INSERT by INSERT. */
async function timeDrain(b: BenchRun, backlogCodes: string[], unlock: () => Promise<void>) {
  // Should be 0: the lock held the consumer back, so every verify above was the shard path.
  const [held] = await b.q<{ n: string }>("SELECT count(*) AS n FROM receipts WHERE code = ANY($1)", [
    backlogCodes.map((c) => c.replaceAll("-", "")),
  ]);
  const release = Date.now();
  await unlock();
  b.say("  lock released; timing the consumer's drain");
  const drainBacklog = await b.drain(60_000);
  const backlogRows = await b.q<{
    n: string;
    first: Date;
    last: Date;
    inserts: string;
  }>(
    `SELECT count(*) AS n, min(persisted_at) AS first, max(persisted_at) AS last, count(DISTINCT xmin::text) AS inserts
       FROM receipts WHERE code = ANY($1)`,
    [backlogCodes.map((c) => c.replaceAll("-", ""))],
  );
  const bl = backlogRows[0] ?? { n: "0", first: new Date(release), last: new Date(release), inserts: "0" };
  // One row per INSERT (its transaction id): rows, when its first and last row were written.
  const perInsert = (
    await b.q<{ rows: string; first_ms: number; last_ms: number }>(
      `SELECT count(*) AS rows,
              extract(epoch FROM min(persisted_at)) * 1000 AS first_ms,
              extract(epoch FROM max(persisted_at)) * 1000 AS last_ms
         FROM receipts WHERE code = ANY($1) GROUP BY xmin::text ORDER BY 2`,
      [backlogCodes.map((c) => c.replaceAll("-", ""))],
    )
  ).map((x, i, all) => ({
    rows: Number(x.rows),
    startMs: round(Number(x.first_ms) - release, 0),
    insideMs: round(Number(x.last_ms) - Number(x.first_ms), 1),
    gapBeforeMs: round(Number(x.first_ms) - (i ? Number(all[i - 1]?.last_ms) : release), 0),
  }));
  const drained = Number(bl.n);
  const drainSecs = Math.max(0.001, (new Date(bl.last).getTime() - release) / 1000);
  const consumerRate = drained / drainSecs;
  const inStatementSecs = perInsert.reduce((s, x) => s + x.insideMs / 1000, 0);
  // The local queue broker sends a batch that is not full only after max_batch_timeout (1 s):
  // the rate over the full batches shows the consumer without that wait.
  const fullBatches = perInsert.slice(0, -1);
  const lastFull = fullBatches.at(-1);
  const fullRate = lastFull
    ? fullBatches.reduce((t, x) => t + x.rows, 0) / ((lastFull.startMs + lastFull.insideMs) / 1000)
    : consumerRate;

  return {
    inPostgresBeforeUnlock: Number(held?.n ?? 0),
    drainBacklog,
    drained,
    inserts: Number(bl.inserts),
    perInsert,
    drainSecs,
    consumerRate,
    inStatementSecs,
    fullRate,
  };
}

/** A raw COPY of the same rows into a scratch table of the same shape: the ceiling. */
async function rawCopy(b: BenchRun, backlogCodes: string[]) {
  b.say("raw COPY of the same rows into a scratch table of the same shape");
  // The columns the consumer's INSERT fills.
  const cols = COPY_COLUMNS;
  const source = await b.q<Record<string, unknown>>(
    `SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(", ")} FROM receipts WHERE code = ANY($1)`,
    [backlogCodes.map((c) => c.replaceAll("-", ""))],
  );
  const lines = source.map((row) => cols.map((c) => copyText(row[c])).join("\t"));
  await b.q("DROP TABLE IF EXISTS bench_copy_scratch");
  await b.q(
    "CREATE TABLE bench_copy_scratch (LIKE receipts INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)",
  );
  const copyClient = new pg.Client({ connectionString: b.o.db.url });
  await copyClient.connect();
  const tc = performance.now();
  const copied = await copyFrom(copyClient, `COPY bench_copy_scratch (${cols.join(", ")}) FROM STDIN`, lines);
  const copyMs = performance.now() - tc;
  await copyClient.end();
  b.ownStatements += 1;
  await b.q("DROP TABLE bench_copy_scratch");
  const copyRate = copied / (copyMs / 1000);

  return { copyRate, copied, copyMs };
}

/**
 * The product's own write (db/receipts.ts insertReceipts: the INSERT, whose trigger adds the rows
 * to the rollups, and the webhook deliveries) straight from Node with the consumer's batch size,
 * on the same rows under fresh codes and store ids: the SQL's cost without the queue,
 * Worker and tunnel.
 */
async function productInsert(b: BenchRun, backlogCodes: string[], drained: number, inserts: number) {
  b.say("the product's INSERT with its rollups from Node, same rows (fresh codes), same batch size");
  const recordRows = await b.q<Record<string, unknown>>(
    `SELECT ${recordColumns()} FROM receipts WHERE code = ANY($1)`,
    [backlogCodes.map((c) => c.replaceAll("-", ""))],
  );
  const outbox = recordRows.map((row, i) => {
    const original = recordFromRow(row as RecordRow);
    // A code and a store no receipt has, so the rows are new to the unique keys (code; store and seq).
    const record = {
      ...original,
      code: encodeCode("bench-insert", { shard: 1023, counter: i + 1 }),
      storeId: `${original.storeId}-again`,
    };
    return { counter: i + 1, hash: String(row.hash), record: canonicalJson(record) };
  });
  const insertClient = new pg.Client({ connectionString: b.o.db.url });
  await insertClient.connect();
  const insertBatchSize = Math.max(100, Math.round(drained / Math.max(1, inserts)));
  const ti = performance.now();
  let inserted = 0;
  for (let i = 0; i < outbox.length; i += insertBatchSize)
    inserted += (await insertReceipts(nodeDb(insertClient), outbox.slice(i, i + insertBatchSize))).inserted;
  const insertMs = performance.now() - ti;
  await insertClient.end();
  b.ownStatements += Math.ceil(outbox.length / insertBatchSize) * 4;
  const insertRate = inserted / (insertMs / 1000);
  const records = recordRows.map((row) => ({ record: recordFromRow(row as RecordRow), hash: String(row.hash) }));
  return { insertRate, insertBatch: insertBatchSize, insertMs, records };
}
