/**
 * Receipts databases beside the primary (docs/scale.md §6a, core/db-routes.ts):
 * each runs the same migrations and subscribes, by Postgres's logical
 * replication, to the primary's control plane, so the consumer's one statement
 * and its rollups trigger join local copies of stores, time zones and webhooks,
 * and verify its names. The same steps in dev, the tests and `npm run db:migrate`.
 */
import pg from "pg";
import { applyMigrations } from "./migrate.ts";

/** What a receipts database reads from the primary; the primary alone writes them. */
export const CONTROL_TABLES = ["tenants", "stores", "time_zones", "webhooks", "control_heartbeat"] as const;
/** Control tables the migrations fill: emptied on a receipts database before its first copy of them. */
const SEEDED = ["time_zones", "control_heartbeat"];
const PUBLICATION = "tillproof_control";

const subscriptionOf = (name: string) => `tillproof_control_${name.replaceAll("-", "_")}`;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** libpq's key=value form of a URL, as CREATE SUBSCRIPTION takes it. */
function conninfo(url: string): string {
  const u = new URL(url);
  const quote = (v: string) => `'${v.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  const parts = [
    `host=${quote(u.hostname)}`,
    `port=${quote(u.port || "5432")}`,
    `dbname=${quote(decodeURIComponent(u.pathname.slice(1)))}`,
    `user=${quote(decodeURIComponent(u.username || "postgres"))}`,
  ];
  if (u.password) parts.push(`password=${quote(decodeURIComponent(u.password))}`);
  const sslmode = u.searchParams.get("sslmode");
  if (sslmode) parts.push(`sslmode=${quote(sslmode)}`);
  return parts.join(" ");
}

/**
 * Migrates the receipts database `name` (as its owner, `receiptsUrl`) and
 * subscribes it to the primary's control plane (`primaryUrl`, its owner; the
 * server must run with wal_level=logical). Idempotent: run it before every
 * migration of the primary, so a column a migration adds exists on the
 * subscriber first. The slot is made apart from the subscription, which also
 * lets a receipts database live in the primary's own cluster (local stacks).
 */
export async function setUpReceiptsDatabase(
  primaryUrl: string,
  receiptsUrl: string,
  name: string,
  /**
   * How the subscription logs in to the primary (kept in the receipts database's catalog):
   * a role with REPLICATION and SELECT on the control tables, not the owner. Default: `primaryUrl`.
   */
  replicationUrl = primaryUrl,
): Promise<void> {
  await applyMigrations(receiptsUrl);
  const sub = subscriptionOf(name);
  await withClient(primaryUrl, async (p) => {
    const level = (await p.query<{ wal_level: string }>("SHOW wal_level")).rows[0]?.wal_level;
    if (level !== "logical")
      throw new Error(`the primary runs with wal_level=${level}: receipts databases need wal_level=logical`);
    const published = await p.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [PUBLICATION]);
    if (!published.rowCount) await p.query(`CREATE PUBLICATION ${PUBLICATION} FOR TABLE ${CONTROL_TABLES.join(", ")}`);
    // A table added to the control plane since (a later release) joins the publication.
    const { rows } = await p.query<{ tablename: string }>(
      "SELECT tablename FROM pg_publication_tables WHERE pubname = $1",
      [PUBLICATION],
    );
    for (const t of CONTROL_TABLES.filter((t) => !rows.some((r) => r.tablename === t)))
      await p.query(`ALTER PUBLICATION ${PUBLICATION} ADD TABLE ${t}`);
    const slot = await p.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [sub]);
    if (!slot.rowCount) await p.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [sub]);
  });
  await subscribe(primaryUrl, receiptsUrl, name, replicationUrl).catch(async (e: Error) => {
    // A slot no subscription reads keeps the primary's WAL for ever: it goes with a setup that made
    // no subscription (never one a subscription already uses, even a stopped one).
    const subscribed = await withClient(receiptsUrl, (r) =>
      r.query("SELECT 1 FROM pg_subscription WHERE subname = $1", [sub]),
    ).then(
      (x) => (x.rowCount ?? 0) > 0,
      () => null,
    );
    if (subscribed !== false) throw e;
    const dropped = await withClient(primaryUrl, (p) =>
      p.query(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
        [sub],
      ),
    ).then(
      () => `its replication slot ${sub} on the primary was dropped again`,
      () => `drop its replication slot on the primary (SELECT pg_drop_replication_slot('${sub}')), or it keeps WAL`,
    );
    throw new Error(`receipts database "${name}" was not subscribed (${e.message}); ${dropped}`, { cause: e });
  });
}

/** The receipts database's side: its subscription to the primary's control plane, made once (refreshed after). */
async function subscribe(primaryUrl: string, receiptsUrl: string, name: string, replicationUrl: string): Promise<void> {
  const sub = subscriptionOf(name);
  await withClient(receiptsUrl, async (r) => {
    const exists = await r.query("SELECT 1 FROM pg_subscription WHERE subname = $1", [sub]);
    if (exists.rowCount) {
      // Subscribed already: a table the publication gained is copied in (emptied first if seeded).
      const { rows } = await r.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid
           JOIN pg_class c ON c.oid = sr.srrelid WHERE s.subname = $1`,
        [sub],
      );
      const missing = CONTROL_TABLES.filter((t) => !rows.some((x) => x.name === t));
      if (!missing.length) return;
      for (const t of missing.filter((t) => SEEDED.includes(t))) await r.query(`TRUNCATE ${t}`);
      await r.query(`ALTER SUBSCRIPTION ${sub} REFRESH PUBLICATION`);
      return;
    }
    // Never a database that already holds a control plane (the primary named by mistake).
    const held = await r.query(
      "SELECT 1 FROM tenants UNION ALL SELECT 1 FROM stores UNION ALL SELECT 1 FROM webhooks LIMIT 1",
    );
    if (held.rowCount)
      throw new Error(`"${name}" holds tenants, stores or webhooks: it is not a new receipts database`);
    // The migrations seed some tables; the subscription's first copy brings the primary's rows instead.
    await r.query(`TRUNCATE ${SEEDED.join(", ")}`);
    await r.query(
      `CREATE SUBSCRIPTION ${sub} CONNECTION '${conninfo(replicationUrl).replaceAll("'", "''")}'
         PUBLICATION ${PUBLICATION} WITH (create_slot = false, slot_name = '${sub}')`,
    );
  });
}

/** Ends a receipts database's subscription and its slot on the primary (before either database is dropped). */
export async function tearDownReceiptsDatabase(primaryUrl: string, receiptsUrl: string, name: string): Promise<void> {
  const sub = subscriptionOf(name);
  await withClient(receiptsUrl, async (r) => {
    if (!(await r.query("SELECT 1 FROM pg_subscription WHERE subname = $1", [sub])).rowCount) return;
    await r.query(`ALTER SUBSCRIPTION ${sub} DISABLE`);
    await r.query(`ALTER SUBSCRIPTION ${sub} SET (slot_name = NONE)`);
    await r.query(`DROP SUBSCRIPTION ${sub}`);
  });
  await withClient(primaryUrl, async (p) => {
    // The walsender may take a moment to let go of the slot once the subscription is gone.
    for (let i = 0; i < 50; i++) {
      const { rows } = await p.query<{ active: boolean }>(
        "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
        [sub],
      );
      if (!rows[0]) return;
      if (!rows[0].active) {
        await p.query("SELECT pg_drop_replication_slot($1)", [sub]);
        return;
      }
      await new Promise((ok) => setTimeout(ok, 100));
    }
  });
}

/** Waits until the receipts database holds what the primary's control plane holds now (the tests' and dev's barrier). */
export async function controlPlaneCaughtUp(primaryUrl: string, receiptsUrl: string, timeoutMs = 15_000): Promise<void> {
  const counts = (url: string) =>
    withClient(
      url,
      async (c) =>
        (
          await c.query<{ n: string }>(
            `SELECT ${CONTROL_TABLES.map((t) => `(SELECT count(*) FROM ${t})`).join(" || '/' || ")} AS n`,
          )
        ).rows[0]?.n,
    );
  const want = await counts(primaryUrl);
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if ((await counts(receiptsUrl)) === want) return;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error(`the receipts database did not catch up with the primary's control plane within ${timeoutMs} ms`);
}

/** A layout of DATABASE_URLS: the shards split evenly over `databases` in order (the primary's first). */
export function evenLayout(shardCount: number, databases: { name: string; url: string }[]) {
  let from = 0;
  return databases.map((d, i) => {
    const to = Math.round(((i + 1) * shardCount) / databases.length) - 1;
    const shards = `${from}-${to}`;
    from = to + 1;
    return { ...d, shards };
  });
}
