/**
 * `npm run db:migrate`: applies migrations/ as the database owner
 * (MIGRATION_DATABASE_URL; e.g. Neon, before a deploy). The Worker's own
 * DATABASE_URL is the runtime role, which cannot migrate.
 */
import { applyMigrations } from "./lib/stack/migrate.ts";

const url = process.env.MIGRATION_DATABASE_URL;
if (!url) {
  console.error("Set MIGRATION_DATABASE_URL to the owner's connection string of the Postgres to migrate.");
  process.exit(1);
}
await applyMigrations(url);
console.log("migrations applied");
