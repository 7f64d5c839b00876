/**
 * The archive's guards for one day (workers/archive/archive-day.ts), in workerd
 * against Postgres: a day whose shard still owes receipts (a gap in its
 * counters) is not dropped, and a day once dropped is never marked otherwise
 * by a run that finishes after another dropped it.
 */
import { env } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { canonicalJson } from "../../core/canonical.ts";
import { encodeCode } from "../../core/code.ts";
import { buildRecord, GENESIS_HASH, parseReceipt } from "../../core/receipt.ts";
import { dayState, setDayState } from "../../db/archive.ts";
import { openPg } from "../../db/client.ts";
import { insertReceipts } from "../../db/receipts.ts";
import { sha256Hex } from "../../kit/crypto.ts";
import { archiveDay } from "../../workers/archive/archive-day.ts";
import { insiderSql } from "../insider.ts";
import { sale, sqlQuery } from "./helpers.ts";

/** A day long gone, given a partition here, and a shard no other test uses. */
const DAY = "2001-02-03";
const PARTITION = "receipts_20010203";
const SHARD = 8001;
const TENANT = "gapday";

function receipts(counters: number[]) {
  let prevHash = GENESIS_HASH;
  return counters.map((counter, i) => {
    const record = buildRecord({
      input: parseReceipt(sale({ issuedAt: `${DAY}T09:59:00Z` }), Date.parse(`${DAY}T10:00:00Z`)),
      code: encodeCode(env.CODE_KEY, { shard: SHARD, counter }, 2),
      tenantId: TENANT,
      storeId: "gap-1",
      terminalId: "till-1",
      seq: i + 1,
      receivedAt: Date.parse(`${DAY}T10:00:00Z`) + counter,
      prevHash,
    });
    const json = canonicalJson(record);
    prevHash = sha256Hex(json);
    return { counter, hash: prevHash, record: json };
  });
}

afterAll(async () => {
  const keys = await sqlQuery<{ key: string }>("SELECT key FROM archive_objects WHERE day = $1::date", [DAY]);
  for (const { key } of keys) await env.ARCHIVE.delete(key);
  await sqlQuery("DELETE FROM archive_objects WHERE day = $1::date", [DAY]);
  await sqlQuery("DELETE FROM archive_days WHERE day = $1::date", [DAY]);
  await sqlQuery(insiderSql(`DELETE FROM receipts WHERE tenant_id = '${TENANT}'`));
  await sqlQuery("DELETE FROM receipt_keys WHERE tenant_id = $1", [TENANT]);
  await sqlQuery(`DROP TABLE IF EXISTS ${PARTITION}`);
  await sqlQuery("DELETE FROM stores WHERE tenant_id = $1", [TENANT]);
  await sqlQuery("DELETE FROM tenants WHERE id = $1", [TENANT]);
});

describe("archiving a day", () => {
  it("keeps a day whose shard still owes a receipt (a gap in its counters), and says which", async () => {
    await sqlQuery("INSERT INTO tenants (id, name, api_key_hash) VALUES ($1, $1, repeat('0', 64))", [TENANT]);
    await sqlQuery("INSERT INTO stores (tenant_id, id, name, timezone, shard) VALUES ($1, 'gap-1', 'Gap', 'UTC', $2)", [
      TENANT,
      SHARD,
    ]);
    await sqlQuery(
      `CREATE TABLE ${PARTITION} PARTITION OF receipts FOR VALUES FROM ('${DAY} 00:00+00') TO ('2001-02-04 00:00+00')`,
    );
    const pg = openPg(env);
    try {
      // Counter 3 is still on its way (in its shard, or quarantined) when the day comes to be archived.
      expect((await insertReceipts(pg.db, receipts([1, 2, 4]))).inserted).toBe(3);
      const report = await archiveDay(env, pg.db, DAY, Date.now() + 30_000);
      expect(report.state).toBe("failed");
      expect(report.detail).toMatch(
        new RegExp(`^shard ${SHARD}: 1 of its counters 1–4 are not in Postgres yet .*the day stays until they land$`),
      );
      expect(await sqlQuery("SELECT to_regclass($1) AS part", [PARTITION])).toEqual([{ part: PARTITION }]);
      expect((await dayState(pg.db, DAY))?.state).toBe("failed");
    } finally {
      await pg.end();
    }
  });

  it("writes a day held back by a gap again only once Postgres fills it", async () => {
    const pg = openPg(env);
    const written = () =>
      sqlQuery<{ key: string; x: string }>("SELECT key, xmin::text AS x FROM archive_objects WHERE day = $1::date", [
        DAY,
      ]);
    try {
      const before = await written();
      expect(before.length).toBeGreaterThan(0);
      // Still missing: the run leaves the day (and its objects) as they are, and says why.
      const again = await archiveDay(env, pg.db, DAY, Date.now() + 30_000);
      expect(again.state).toBe("failed");
      expect(again.detail).toMatch(new RegExp(`^shard ${SHARD}: 1 of its counters 1–4 are not in Postgres yet`));
      expect(await written()).toEqual(before);
      // Counter 3 lands (as its shard's next flush would bring it): the next run writes the day again.
      expect((await insertReceipts(pg.db, receipts([1, 2, 4, 3]))).inserted).toBe(1);
      const filled = await archiveDay(env, pg.db, DAY, Date.now() + 30_000);
      expect(filled.detail ?? "").not.toMatch(/not in Postgres yet/);
      expect(await written()).not.toEqual(before);
    } finally {
      await pg.end();
    }
  });

  it("never marks a dropped day otherwise, whatever a run that finishes later says", async () => {
    const pg = openPg(env);
    try {
      await sqlQuery("UPDATE archive_days SET state = 'dropped', detail = NULL WHERE day = $1::date", [DAY]);
      // The run by hand that read back while the cron dropped the day: 0 rows left in Postgres.
      await setDayState(pg.db, DAY, "failed", { detail: "0 receipts of the day in Postgres, 3 archived" });
      await setDayState(pg.db, DAY, "writing", { detail: null });
      expect(await dayState(pg.db, DAY)).toEqual({ state: "dropped", detail: null });
    } finally {
      await pg.end();
    }
  });
});
