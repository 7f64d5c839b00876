/**
 * db/'s functions from Node: drizzle over a node-postgres client or pool, the
 * same `Db` the Workers get over Neon's driver.
 */
import { drizzle, type NodePgClient } from "drizzle-orm/node-postgres";
import type { Db } from "../../db/client.ts";
import * as schema from "../../db/schema.ts";

/** Over a client, a pool, or one of a pool's connections (a transaction's snapshot holds for every query). */
export const nodeDb = (client: NodePgClient): Db => drizzle({ client, schema });
