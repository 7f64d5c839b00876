/**
 * A queue message replayed after its receipts' day was archived and dropped
 * (a dead letter replayed weeks later) inserts nothing the archive holds: no
 * second copy in DEFAULT (migrations/0023). A receipt the archive does not
 * hold still lands, in DEFAULT, as before.
 */
import { env } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { canonicalJson } from "../../core/canonical.ts";
import { encodeCode } from "../../core/code.ts";
import { buildRecord, GENESIS_HASH, parseReceipt } from "../../core/receipt.ts";
import { openPg } from "../../db/client.ts";
import { insertReceipts } from "../../db/receipts.ts";
import { sha256Hex } from "../../kit/crypto.ts";
import { insiderSql } from "../insider.ts";
import { sale, sqlQuery } from "./helpers.ts";

/** A day long gone (no partition: its rows route to DEFAULT), and a shard no other test uses. */
const DAY = "2001-01-02";
const SHARD = 8000;

function receipts(counters: number[]) {
  let prevHash = GENESIS_HASH;
  return counters.map((counter) => {
    const record = buildRecord({
      input: parseReceipt(sale({ issuedAt: `${DAY}T09:59:00Z` }), Date.parse(`${DAY}T10:00:00Z`)),
      code: encodeCode(env.CODE_KEY, { shard: SHARD, counter }, 2),
      tenantId: "replay",
      storeId: "replay-1",
      terminalId: "till-1",
      seq: counter,
      receivedAt: Date.parse(`${DAY}T10:00:00Z`) + counter,
      prevHash,
    });
    const json = canonicalJson(record);
    prevHash = sha256Hex(json);
    return { counter, hash: prevHash, record: json, code: record.code };
  });
}

afterAll(async () => {
  await sqlQuery(insiderSql("DELETE FROM receipts WHERE tenant_id = 'replay'"));
  await sqlQuery("DELETE FROM receipt_keys WHERE tenant_id = 'replay'");
  await sqlQuery("DELETE FROM archive_objects WHERE day = $1::date", [DAY]);
  await sqlQuery("DELETE FROM archive_days WHERE day = $1::date", [DAY]);
});

describe("a message replayed after its day left Postgres", () => {
  it("inserts only what the archive does not hold, and claims no key for the rest", async () => {
    const all = receipts([1, 2, 3]);
    // The day was archived with counters 1 and 2 of this shard, then dropped.
    await sqlQuery("INSERT INTO archive_days (day, state) VALUES ($1::date, 'dropped')", [DAY]);
    await sqlQuery(
      `INSERT INTO archive_objects (day, shard, part, key, rows, first_counter, last_counter, last_code, sha256, bytes)
       VALUES ($1::date, $2, 0, 'archive/v1/replay', 2, 1, 2, $3, repeat('0', 64), 1000)`,
      [DAY, SHARD, all[1]?.code],
    );
    const pg = openPg(env);
    try {
      // As the consumer writes a batch, with the runtime role.
      expect((await insertReceipts(pg.db, all)).inserted).toBe(1);
    } finally {
      await pg.end();
    }
    const rows = await sqlQuery<{ code: string; part: string }>(
      "SELECT code, tableoid::regclass::text AS part FROM receipts WHERE tenant_id = 'replay'",
    );
    expect(rows).toEqual([{ code: all[2]?.code, part: "receipts_default" }]);
    const keys = await sqlQuery<{ seq: string }>("SELECT seq FROM receipt_keys WHERE tenant_id = 'replay'");
    expect(keys.map((k) => Number(k.seq))).toEqual([3]);
  });
});
