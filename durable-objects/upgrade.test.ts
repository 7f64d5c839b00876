/**
 * The upgrade step's carrying of a pre-ring shard's idempotency keys, in Node:
 * a retry after the upgrade replays its code from the index, a key past its
 * 24 h is gone, and the old table is left empty (no lookup reads it again).
 */
import { describe, expect, it } from "vitest";
import { canonicalHash } from "../core/canonical.ts";
import { parseCode } from "../core/code.ts";
import { memoryLogger } from "../kit/logger.ts";
import { IDEMPOTENCY_TTL_MS } from "./idempotency.ts";
import { terminalKey } from "./offline.ts";
import { issue, issuedOf, KEY, open, STORE, sale, setUp, world } from "./test-shards.ts";
import { upgradeOnStart } from "./upgrade.ts";

const noHistory = async () => {
  throw new Error("this shard adopts no history");
};

describe("upgrade: a pre-ring shard's idempotency keys", () => {
  it("become one run of the index: a retry replays, a changed body conflicts, an expired key is new", async () => {
    const w = world();
    const shard = setUp(w);
    const first = issuedOf(await issue(shard, "ring-key"));
    const second = issuedOf(await issue(shard, "ring-key-2", sale(990)));
    const who = terminalKey({ tenantId: STORE.tenantId, storeId: STORE.storeId, terminalId: "till-1" });
    // What the old release stored: its printed reply (dashed code) per key.
    const put = (key: string, code: string, body: object, at: number) =>
      w.storage.sql.exec(
        "INSERT INTO idempotency (terminal, key, body_hash, response, created_at) VALUES (?, ?, ?, ?, ?)",
        who,
        key,
        canonicalHash(body),
        JSON.stringify({ code: `${code.slice(0, 4)}-${code.slice(4)}` }),
        at,
      );
    put("old-1", first.code, sale(), w.now - 60_000);
    put("old-expired", second.code, sale(990), w.now - IDEMPOTENCY_TTL_MS - 1);

    const logger = memoryLogger();
    await upgradeOnStart(w.storage, noHistory, logger, { codeKey: KEY, now: w.now });
    expect(w.storage.sql.exec("SELECT count(*) AS n FROM idempotency").one().n).toBe(0);
    expect(logger.lines).toContainEqual(expect.objectContaining({ keys: 1 }));

    const restarted = open(w);
    expect(await issue(restarted, "old-1")).toEqual({ kind: "replayed", issued: first });
    expect(await issue(restarted, "old-1", sale(5))).toEqual({ kind: "conflict" });
    const fresh = issuedOf(await issue(restarted, "old-expired", sale(990)));
    expect(parseCode(KEY, fresh.code)?.counter).toBe(3);
  });

  it("does nothing on a shard without the old keys", async () => {
    const w = world();
    setUp(w);
    const logger = memoryLogger();
    await upgradeOnStart(w.storage, noHistory, logger, { codeKey: KEY, now: w.now });
    expect(logger.lines).toEqual([]);
    expect(w.storage.sql.exec("SELECT count(*) AS n FROM idem_runs").one().n).toBe(0);
  });
});
