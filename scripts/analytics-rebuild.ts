/**
 * `npm run analytics:rebuild -- --from YYYY-MM-DD --to YYYY-MM-DD`: recomputes
 * the analytics rollups of those store-local days from receipts (db/rollups.ts),
 * as the database owner. Idempotent: run it again and nothing changes. Use it
 * after a store changed time zone, or to check the rollups against receipts.
 *
 * The owner's URL: MIGRATION_DATABASE_URL, else DATABASE_URL, else the
 * embedded Postgres of a running `npm run dev`.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { dateRange } from "../core/analytics.ts";
import { ArchivedDays, rebuildRollups } from "../db/rollups.ts";
import { nodeDb } from "./lib/db.ts";

const { values: args } = parseArgs({ options: { from: { type: "string" }, to: { type: "string" } } });
const range = dateRange.safeParse(args);
if (!range.success) {
  const why = range.error.issues.map((i) => `${i.path.join(".") || "range"} ${i.message}`).join("; ");
  console.error(`usage: npm run analytics:rebuild -- --from YYYY-MM-DD --to YYYY-MM-DD\n  ${why}`);
  process.exit(2);
}
const url =
  process.env.MIGRATION_DATABASE_URL ??
  process.env.DATABASE_URL ??
  `postgres://postgres@127.0.0.1:${process.env.TILLPROOF_PG_PORT ?? 54329}/tillproof`;
const client = new pg.Client({ connectionString: url });
await client.connect();
try {
  const started = Date.now();
  const r = await rebuildRollups(nodeDb(client), range.data.from, range.data.to).catch((e: unknown) => {
    if (!(e instanceof ArchivedDays)) throw e;
    console.error(`analytics:rebuild: ${e.message}`);
    process.exit(2);
  });
  console.log(
    `rebuilt ${range.data.from} … ${range.data.to}: ${r.receipts} receipts, ${r.deleted} rollup rows replaced by ${r.written}, in ${Date.now() - started} ms`,
  );
} finally {
  await client.end();
}
