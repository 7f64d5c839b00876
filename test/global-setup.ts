/**
 * Node-side setup for the integration tests: a real Postgres (embedded, or
 * TEST_DATABASE_URL / DATABASE_URL when set), a fresh database migrated for this
 * run, and the WebSocket tunnel the Neon driver inside workerd talks through.
 */
import pg from "pg";
import type { TestProject } from "vitest/node";
import { applyMigrations } from "../scripts/lib/stack/migrate.ts";
import { freePort } from "../scripts/lib/stack/ports.ts";
import { hostPort, type RunningPostgres, startEmbeddedPostgres } from "../scripts/lib/stack/postgres.ts";
import { runtimeUrl } from "../scripts/lib/stack/roles.ts";
import { startTunnel } from "../scripts/lib/stack/tunnel.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The Worker's: the runtime role (INSERT and SELECT on receipts only). */
    databaseUrl: string;
    /** The tests' own: the owner, to tamper as an insider would. */
    adminDatabaseUrl: string;
    wsProxy: string;
  }
}

export default async function setup(project: TestProject) {
  let server: RunningPostgres | null = null;
  let adminUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!adminUrl) {
    // A cluster of its own per run (about a second to create, deleted on stop),
    // so parallel runs never collide.
    const port = await freePort();
    server = await startEmbeddedPostgres({
      dir: `.data/test-pg/${port}`,
      port,
      database: "postgres",
      ephemeral: true,
    });
    adminUrl = server.url;
  }
  const database = `tillproof_test_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  await applyMigrations(url.toString());
  const workerUrl = await runtimeUrl(url.toString());
  const tunnel = await startTunnel({ target: hostPort(url.toString()), port: 0 });
  project.provide("databaseUrl", workerUrl);
  project.provide("adminDatabaseUrl", url.toString());
  project.provide("wsProxy", `127.0.0.1:${tunnel.port}`);

  return async () => {
    await tunnel.close();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end();
    await server?.stop();
  };
}
