/**
 * Writes migrations/time-zones.json: the store time zones the Worker accepts,
 * i.e. the names both Postgres (pg_timezone_names) and V8's ICU know. Run it
 * against the oldest Postgres a deployment uses (`DATABASE_URL=… node
 * scripts/time-zones.ts`); a test checks the list against the test Postgres.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import pg from "pg";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("set DATABASE_URL to the Postgres whose zones to list");
const client = new pg.Client({ connectionString: url });
await client.connect();
const { rows } = await client.query<{ name: string }>(
  `SELECT DISTINCT name FROM pg_timezone_names
    WHERE name !~ '^(posix|right)/' AND name NOT IN ('Factory', 'localtime', 'posixrules') ORDER BY name`,
);
await client.end();
const icuKnows = (tz: string) => {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};
const names = rows.map((r) => r.name).filter(icuKnows);
writeFileSync(resolve(import.meta.dirname, "../migrations/time-zones.json"), `${JSON.stringify(names, null, 0)}\n`);
console.log(`${names.length} time zones (of ${rows.length} Postgres knows)`);
