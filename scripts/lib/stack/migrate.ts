import { resolve } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";

const MIGRATIONS = resolve(import.meta.dirname, "../../../migrations");

/** Applies migrations/ (drizzle's journal): the same step in dev, tests and production. */
export async function applyMigrations(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate(drizzle(pool), { migrationsFolder: MIGRATIONS });
  } catch (e) {
    const cause = (e as { cause?: Error }).cause;
    throw new Error(`migration failed: ${(cause ?? (e as Error)).message}`);
  } finally {
    await pool.end();
  }
}
