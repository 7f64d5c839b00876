/** `npm run db:migrate`: applies migrations/ to DATABASE_URL (e.g. Neon, before a deploy). */
import { applyMigrations } from "./lib/migrate.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("Set DATABASE_URL to the Postgres to migrate.");
  process.exit(1);
}
await applyMigrations(url);
console.log("migrations applied");
