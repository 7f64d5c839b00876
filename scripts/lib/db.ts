/**
 * db/'s functions from Node: drizzle over a node-postgres client or pool, the
 * same `Db` the Workers get over Neon's driver.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import type { Db } from "../../db/client.ts";
import * as schema from "../../db/schema.ts";

export const nodeDb = (client: pg.Client | pg.Pool): Db => drizzle({ client, schema });
