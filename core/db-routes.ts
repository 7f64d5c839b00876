/**
 * Which Postgres holds a shard's receipts of a day (docs/scale.md §6a): the
 * dated routing table `DATABASE_URLS`. Each layout names, from its `since` day
 * (UTC, the receipts' received day) on, one database per range of shards;
 * before the first layout every receipt is on the primary (`DATABASE_URL`),
 * which keeps the control plane. A re-split adds a layout on a future day:
 * new days go to the new layout, old days stay where they were.
 *
 *   [{ "since": "2027-01-01", "databases": [
 *      { "name": "a", "shards": "0-127", "url": "postgres://…" },
 *      { "name": "b", "shards": "128-255", "url": "postgres://…" } ] }]
 */
import { z } from "zod";
import { MAX_SHARDS } from "./code.ts";

export const PRIMARY = "primary";
const DAY_MS = 86_400_000;

export type Database = { name: string; url: string };
type Range = { from: number; to: number };
export type Layout = { sinceMs: number; databases: (Database & { ranges: Range[] })[] };
export type Routes = { primary: Database; layouts: Layout[] };

const name = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, "a database's name is 1–32 of a-z, 0-9, _ and -, starting with a letter");
const shards = z
  .string()
  .regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, 'shards are ranges such as "0-127" or "0-63,128-191"')
  .transform((s): Range[] =>
    s.split(",").map((part) => {
      const [from, to = from] = part.split("-").map(Number) as [number, number?];
      return { from, to };
    }),
  );
const layoutSchema = z.object({
  since: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "since is a day, YYYY-MM-DD (UTC)"),
  databases: z
    .array(z.object({ name, shards, url: z.string().regex(/^postgres(ql)?:\/\//, "url is a postgres:// URL") }))
    .min(1),
});
const routesSchema = z.array(layoutSchema).min(1);

/** What is wrong with a routing table, in words an operator can act on. */
export class RoutesInvalid extends Error {}

/**
 * Parses `DATABASE_URLS` for `shardCount` shards. Unset or empty: every
 * receipt on the primary. Refuses a table that leaves a shard without a
 * database, gives one two, or names one database by two URLs: a receipt
 * routed by a wrong table could be written where no read looks for it.
 */
export function parseRoutes(primaryUrl: string, raw: string | undefined, shardCount: number): Routes {
  const primary = { name: PRIMARY, url: primaryUrl };
  if (!raw?.trim()) return { primary, layouts: [] };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new RoutesInvalid("DATABASE_URLS is not JSON");
  }
  const parsed = routesSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RoutesInvalid(`DATABASE_URLS: ${issue?.path.join(".") || "(top)"}: ${issue?.message}`);
  }
  const urls = new Map<string, string>([[PRIMARY, primaryUrl]]);
  // One database under two names would be read twice (analytics, the delivery log doubled).
  const names = new Map<string, string>([[databaseOf(primaryUrl), PRIMARY]]);
  const layouts: Layout[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (const [i, l] of parsed.data.entries()) {
    const sinceMs = Date.parse(`${l.since}T00:00:00Z`);
    if (!Number.isFinite(sinceMs)) throw new RoutesInvalid(`DATABASE_URLS: ${i}.since: ${l.since} is not a day`);
    if (sinceMs <= last) throw new RoutesInvalid(`DATABASE_URLS: ${i}.since: layouts must be in order of their day`);
    last = sinceMs;
    const owner = Array.from<string | undefined>({ length: MAX_SHARDS });
    for (const d of l.databases) {
      const known = urls.get(d.name);
      if (known !== undefined && known !== d.url)
        throw new RoutesInvalid(`DATABASE_URLS: ${i}: the database "${d.name}" has two URLs`);
      urls.set(d.name, d.url);
      const other = names.get(databaseOf(d.url));
      if (other !== undefined && other !== d.name)
        throw new RoutesInvalid(`DATABASE_URLS: ${i}: "${d.name}" is the database "${other}" under another name`);
      names.set(databaseOf(d.url), d.name);
      for (const { from, to } of d.shards) {
        // Shards past SHARD_COUNT may be named (raising it then needs no change here first).
        if (from > to || to >= MAX_SHARDS)
          throw new RoutesInvalid(`DATABASE_URLS: ${i}: "${d.name}" names shards outside 0-${MAX_SHARDS - 1}`);
        for (let s = from; s <= to; s++) {
          if (owner[s] !== undefined)
            throw new RoutesInvalid(`DATABASE_URLS: ${i}: shard ${s} is in both "${owner[s]}" and "${d.name}"`);
          owner[s] = d.name;
        }
      }
    }
    // Every shard in use has a database; one past SHARD_COUNT that none names is the primary's.
    const orphan = owner.slice(0, shardCount).indexOf(undefined);
    if (orphan >= 0) throw new RoutesInvalid(`DATABASE_URLS: ${i}: shard ${orphan} has no database`);
    layouts.push({ sinceMs, databases: l.databases.map((d) => ({ name: d.name, url: d.url, ranges: d.shards })) });
  }
  return { primary, layouts };
}

/** Which database a URL names, whoever logs in: host, port and database name. */
function databaseOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname.toLowerCase()}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return url;
  }
}

const holds = (d: { ranges: Range[] }, shard: number) => d.ranges.some((r) => shard >= r.from && shard <= r.to);

function inLayout(layout: Layout | undefined, primary: Database, shard: number): Database {
  const d = layout?.databases.find((x) => holds(x, shard));
  return d ? { name: d.name, url: d.url } : primary;
}

/** The database of a receipt of `shard` received at `receivedMs`. */
export function databaseFor(routes: Routes, shard: number, receivedMs: number): Database {
  const day = Math.floor(receivedMs / DAY_MS) * DAY_MS;
  const layout = routes.layouts.findLast((l) => l.sinceMs <= day);
  return inLayout(layout, routes.primary, shard);
}

/** Every database that may hold a receipt of `shard`, newest layout first (a code carries no day). */
export function databasesOf(routes: Routes, shard: number): Database[] {
  const out: Database[] = [];
  for (const layout of [...routes.layouts].reverse()) {
    const d = inLayout(layout, routes.primary, shard);
    if (!out.some((x) => x.name === d.name)) out.push(d);
  }
  // Days before the first layout are the primary's.
  if (!out.some((x) => x.name === PRIMARY)) out.push(routes.primary);
  return out;
}

/** Every database that holds receipts: the primary first. */
export function allDatabases(routes: Routes): Database[] {
  const out: Database[] = [routes.primary];
  for (const l of routes.layouts)
    for (const d of l.databases) if (!out.some((x) => x.name === d.name)) out.push({ name: d.name, url: d.url });
  return out;
}

/** The database named `name`, if the table has it. */
export function databaseNamed(routes: Routes, name: string): Database | undefined {
  return allDatabases(routes).find((d) => d.name === name);
}
