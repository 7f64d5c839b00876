/**
 * `npm run analytics:rebuild -- --from YYYY-MM-DD --to YYYY-MM-DD`: recomputes
 * the analytics rollups of those store-local days from receipts (db/rollups.ts),
 * as the database owner. Idempotent: run it again and nothing changes. Use it
 * after a store changed time zone, or to check the rollups against receipts.
 *
 * Days archived to R2 (docs/archive.md) are read back from there, through the
 * operator's route (--url, --operator-token): each object must be the bytes
 * Postgres recorded and each record must hash to its hash, or nothing changes.
 *
 * The owner's URL: MIGRATION_DATABASE_URL, else DATABASE_URL, else the
 * embedded Postgres of a running `npm run dev`; receipts databases beside it
 * (DATABASE_URLS) as MIGRATION_DATABASE_URLS names them, each rebuilt apart.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { dateRange } from "../core/analytics.ts";
import { decodeRows } from "../core/archive.ts";
import { canonicalJson } from "../core/canonical.ts";
import { archivedThrough, droppedDaysMark, droppedObjectsSince } from "../db/archive.ts";
import { ArchivedDays, loadArchivedReceipts, rebuildRollups, receivedSince } from "../db/rollups.ts";
import { sha256Hex } from "../kit/crypto.ts";
import { logApi, objectUnlike, parquetFileOf } from "./lib/audit/sources.ts";
import { nodeDb } from "./lib/db.ts";

export type RebuildOptions = {
  databaseUrl: string;
  from: string;
  to: string;
  /** The service and the operator token, to read archived days' objects (needed once the range reaches one). */
  url?: string;
  operatorToken?: string;
};

export type RebuildResult = { receipts: number; archived: number; deleted: number; written: number };

/** An archived object the rebuild cannot trust or read: nothing was changed. */
export class ArchiveUnreadable extends Error {}

export async function runRebuild(o: RebuildOptions): Promise<RebuildResult> {
  const client = new pg.Client({ connectionString: o.databaseUrl });
  await client.connect();
  try {
    const db = nodeDb(client);
    const through = await archivedThrough(db);
    let archived = 0;
    let read: { dropped: string } | undefined;
    if (through !== null && o.from <= through && o.url && o.operatorToken) {
      read = { dropped: await droppedDaysMark(db) };
      const api = logApi(o.url.replace(/\/+$/, ""), o.operatorToken);
      // Read before the rebuild locks the rollups: R2 is slow next to the consumer's inserts.
      for (const object of await droppedObjectsSince(db, receivedSince(o.from))) {
        const bytes = await api.archiveObject(object);
        if (!bytes) throw new ArchiveUnreadable(`${object.key} is gone from R2`);
        const unlike = objectUnlike(object, bytes);
        if (unlike)
          throw new ArchiveUnreadable(`${object.key} is not the bytes written (${unlike}); run npm run audit`);
        const rows = await decodeRows(parquetFileOf(bytes));
        const receipts = rows.map((r) => ({ counter: r.counter, hash: r.hash, record: canonicalJson(r.record) }));
        const altered = receipts.find((r) => sha256Hex(r.record) !== r.hash);
        if (altered) throw new ArchiveUnreadable(`${object.key}: a record no longer hashes to its hash`);
        await loadArchivedReceipts(db, receipts);
        archived += receipts.length;
      }
    }
    const r = await rebuildRollups(db, o.from, o.to, read);
    return { ...r, archived };
  } finally {
    await client.end();
  }
}

async function main(): Promise<number> {
  const { values: args } = parseArgs({
    options: {
      from: { type: "string" },
      to: { type: "string" },
      url: { type: "string" },
      "operator-token": { type: "string" },
    },
  });
  const range = dateRange.safeParse({ from: args.from, to: args.to });
  if (!range.success) {
    const why = range.error.issues.map((i) => `${i.path.join(".") || "range"} ${i.message}`).join("; ");
    console.error(
      `usage: npm run analytics:rebuild -- --from YYYY-MM-DD --to YYYY-MM-DD [--url URL --operator-token T]\n  ${why}`,
    );
    return 2;
  }
  // Each database keeps the rollups of its own receipts (docs/scale.md §6a): each is rebuilt apart,
  // the receipts databases named as `npm run db:migrate` names them (MIGRATION_DATABASE_URLS).
  const databases: [string, string][] = [
    [
      "primary",
      process.env.MIGRATION_DATABASE_URL ??
        process.env.DATABASE_URL ??
        `postgres://postgres@127.0.0.1:${process.env.TILLPROOF_PG_PORT ?? 54329}/tillproof`,
    ],
    ...Object.entries(JSON.parse(process.env.MIGRATION_DATABASE_URLS || "{}") as Record<string, string>),
  ];
  for (const [name, databaseUrl] of databases) {
    const started = Date.now();
    try {
      const r = await runRebuild({
        databaseUrl,
        ...range.data,
        url: args.url ?? process.env.TILLPROOF_URL ?? "http://127.0.0.1:8787",
        operatorToken: args["operator-token"],
      });
      console.log(
        `rebuilt ${range.data.from} … ${range.data.to}${databases.length > 1 ? ` in ${name}` : ""}: ${r.receipts} receipts (${r.archived} read from the archive), ${r.deleted} rollup rows replaced by ${r.written}, in ${Date.now() - started} ms`,
      );
    } catch (e) {
      if (!(e instanceof ArchivedDays || e instanceof ArchiveUnreadable)) throw e;
      console.error(
        `analytics:rebuild: ${databases.length > 1 ? `${name}: ` : ""}${e.message}; nothing was changed there`,
      );
      return 2;
    }
  }
  return 0;
}

if (import.meta.main) process.exit(await main());
