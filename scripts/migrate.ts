/**
 * `npm run db:migrate`: applies migrations/ as the database owner
 * (MIGRATION_DATABASE_URL; e.g. Neon, before a deploy). The Worker's own
 * DATABASE_URL is the runtime role, which cannot migrate.
 *
 * With receipts databases (DATABASE_URLS, docs/scale.md §6a):
 * MIGRATION_DATABASE_URLS='{"r1": "<owner's URL>", …}' names each by its name
 * in the routing table. They are migrated first (a column a migration adds to
 * the control plane must exist where it is replicated to), then the primary,
 * then each subscribes to the primary's control plane (once; idempotent),
 * logging in as REPLICATION_DATABASE_URL: a role with REPLICATION and SELECT
 * on the control tables (the owner's URL if unset, whose password each
 * subscription would then keep).
 */
import { z } from "zod";
import { setUpReceiptsDatabase } from "./lib/stack/databases.ts";
import { applyMigrations } from "./lib/stack/migrate.ts";

const url = process.env.MIGRATION_DATABASE_URL;
if (!url) {
  console.error("Set MIGRATION_DATABASE_URL to the owner's connection string of the Postgres to migrate.");
  process.exit(1);
}
const others = z
  .record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), z.string().regex(/^postgres(ql)?:\/\//))
  .safeParse(JSON.parse(process.env.MIGRATION_DATABASE_URLS || "{}"));
if (!others.success) {
  console.error('MIGRATION_DATABASE_URLS is {"<name>": "postgres://<owner>@…", …}, one entry per receipts database.');
  process.exit(1);
}
const receipts = Object.entries(others.data);
for (const [name, owner] of receipts) {
  await applyMigrations(owner);
  console.log(`migrations applied to ${name}`);
}
await applyMigrations(url);
console.log("migrations applied");
for (const [name, owner] of receipts) {
  await setUpReceiptsDatabase(url, owner, name, process.env.REPLICATION_DATABASE_URL || url);
  console.log(`${name} subscribes to the control plane`);
}
