/**
 * The archive round trip on a real stack (docs/archive.md): receipts issued
 * through the API and persisted, their day archived with `npm run archive`'s
 * code (HOT_DAYS=0, so today may go), its partition dropped, and then every
 * receipt still verifies `valid` with its proof, read from R2, and DuckDB
 * reads the objects as they are. A rerun writes nothing and reports the day
 * dropped again; an object edited or lost shows in verify.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ArchivedReceipt, decodeRows, encodeObject } from "../../core/archive.ts";
import { runRebuild } from "../../scripts/analytics-rebuild.ts";
import { archiveByHand } from "../../scripts/archive.ts";
import { runAudit } from "../../scripts/audit.ts";
import { auditTarget, OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";
import { insiderSql } from "../insider.ts";
import { stackJson, until } from "./helpers.ts";

let stack: Stack;
/** The Worker's local storage: R2's objects are files here, which the insider test edits. */
const storage = mkdtempSync(join(tmpdir(), "tillproof-archive-"));
const codes: string[] = [];
const day = new Date().toISOString().slice(0, 10);

const api = <T>(method: string, path: string, token: string, body?: unknown) =>
  stackJson<T>(stack, method, path, token, body);

type Verified = { status: string; persisted: boolean; proof: { leafIndex: number } | null; total: number };
const verify = (code: string) => api<Verified>("GET", `/v1/verify/${code}`, OPERATOR_TOKEN);
/**
 * Every code, 8 at a time: on this stack a burst of 75 new Postgres connections
 * (each through the local tunnel) takes over a second, and the Worker's breaker
 * then refuses more (db/client.ts), which is its job, not this test's subject.
 */
async function verifyAll(all: string[]): Promise<Verified[]> {
  const out: Verified[] = [];
  for (let i = 0; i < all.length; i += 8) out.push(...(await Promise.all(all.slice(i, i + 8).map(verify))));
  return out;
}
/** `npm run audit` of the stack, reading archived objects through the operator's route. */
const audit = (rollups = false) =>
  runAudit({ ...auditTarget(stack), operatorToken: OPERATOR_TOKEN, graceMs: 1_000, rollups });

/** A tenant's ERP behind a webhook: down (503) until a test brings it up. */
const erp = { up: false, received: [] as { eventId: string; body: string }[] };
const erpServer = createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => {
    body += chunk;
  });
  req.on("end", () => {
    if (erp.up) erp.received.push({ eventId: String(req.headers["tillproof-event-id"]), body });
    res.writeHead(erp.up ? 204 : 503).end();
  });
});
/** The one sale at the store "west", whose webhook delivery waits for the ERP until after its day is archived. */
let westCode = "";
let tenantKey = "";

beforeAll(async () => {
  await new Promise<void>((ok) => erpServer.listen(0, "127.0.0.1", ok));
  stack = await startStack({
    // One attempt, then an hour's wait: the delivery is still pending when its day leaves Postgres.
    vars: {
      HOT_DAYS: "0",
      ALLOW_INSECURE_WEBHOOKS: "on",
      WEBHOOK_RETRY_BASE_S: "3600",
      ARCHIVE_PART_ROWS: "10",
      ARCHIVE_CALL_MS: "0",
    },
    persistTo: storage,
  });
  const { apiKey } = await api<{ apiKey: string }>("POST", "/v1/tenants", OPERATOR_TOKEN, { id: "arch", name: "Arch" });
  tenantKey = apiKey;
  for (const store of ["north", "south", "east"]) {
    await api("PUT", `/v1/tenants/arch/stores/${store}`, apiKey, { name: store, timezone: "Europe/Berlin" });
    const { token } = await api<{ token: string }>("POST", `/v1/tenants/arch/stores/${store}/terminals`, apiKey, {
      id: "till",
    });
    const { results } = await api<{ results: { receipt: { code: string } }[] }>("POST", "/v1/receipts/batch", token, {
      receipts: Array.from({ length: 25 }, (_, i) => ({
        idempotencyKey: `${store}-${i}`,
        issuedAt: "2026-11-21T10:15:00+01:00",
        currency: "EUR",
        cashier: i % 2 ? "Ana" : undefined,
        items: [{ name: `Brot ${i}`, quantity: 1, unitPrice: 300 + i, total: 300 + i }],
        total: 300 + i,
        payments: [{ method: "cash", amount: 300 + i }],
      })),
    });
    codes.push(...results.map((r) => r.receipt.code));
  }
  await api("PUT", "/v1/tenants/arch/stores/west", apiKey, { name: "west", timezone: "Europe/Berlin" });
  const port = (erpServer.address() as AddressInfo).port;
  await api("PUT", "/v1/tenants/arch/webhooks/erp", apiKey, {
    url: `http://127.0.0.1:${port}/in`,
    events: ["receipt.persisted"],
    storeIds: ["west"],
  });
  const { token: west } = await api<{ token: string }>("POST", "/v1/tenants/arch/stores/west/terminals", apiKey, {
    id: "till",
  });
  const sold = await api<{ results: { receipt: { code: string } }[] }>("POST", "/v1/receipts/batch", west, {
    receipts: [
      {
        idempotencyKey: "west-0",
        issuedAt: "2026-11-21T18:00:00+01:00",
        currency: "EUR",
        items: [{ name: "Kuchen", quantity: 1, unitPrice: 450, total: 450 }],
        total: 450,
        payments: [{ method: "card", amount: 450 }],
      },
    ],
  });
  westCode = sold.results[0]?.receipt.code ?? "";
  codes.push(westCode);
  await until(
    async () => (await verifyAll(codes)).every((v) => v.persisted && v.proof !== null),
    "every receipt persisted and in a witnessed checkpoint",
  );
}, 120_000);

afterAll(async () => {
  erpServer.close();
  await stack?.stop();
  rmSync(storage, { recursive: true, force: true });
});

/** The Parquet files under `dir` (R2's objects, as the local runtime keeps them). */
function parquetFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile() && readFileSync(f).subarray(0, 4).toString() === "PAR1");
}

/** The file that holds an archived object's bytes (read through the operator's route). */
async function fileOf(key: string): Promise<string | undefined> {
  const res = await fetch(`${stack.baseUrl}/v1/ops/archive/object?key=${encodeURIComponent(key)}`, {
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return parquetFiles(storage).find((f) => readFileSync(f).equals(bytes));
}

const bufferOf = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

describe("archiving a day", () => {
  it("keeps a day that fails its checks in Postgres, says why, raises an alert, and checks it again on the next run", async () => {
    const code = (codes[4] as string).replaceAll("-", "");
    await stack.sql(insiderSql(`UPDATE receipts SET total = total + 1 WHERE code = '${code}'`));
    const failed = await archiveByHand(stack.baseUrl, OPERATOR_TOKEN, day);
    expect(failed).toMatchObject({ state: "failed", dropped: 0 });
    expect(failed.detail).toContain(`receipt ${code}: the receipt no longer hashes to its hash`);
    const [part] = await stack.sql<{ p: string | null }>("SELECT to_regclass($1)::text AS p", [
      `receipts_${day.replaceAll("-", "")}`,
    ]);
    expect(part?.p).not.toBeNull();
    const status = await api<{ alerts: string[] }>("GET", "/v1/ops/status", OPERATOR_TOKEN);
    expect(status.alerts).toContain(
      "1 day(s) failed their archive checks and stay in Postgres: archive_days.detail says which check (docs/archive.md).",
    );
    const metrics = await (
      await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })
    ).text();
    expect(metrics).toContain("tillproof_archive_failed_days 1");
    await stack.sql(insiderSql(`UPDATE receipts SET total = total - 1 WHERE code = '${code}'`));
  });

  it("writes it to R2, checks it, drops its partition, and every receipt still verifies from the archive", async () => {
    const before = await verifyAll(codes);
    // Ten receipts an object and no time to spare (the stack's settings): each call writes one part
    // and answers `writing`, and the next goes on where it stopped, as a run cut off would; then each
    // call reads back and checks one object more, never one already checked.
    const calls: Record<string, unknown>[] = [];
    do calls.push(await api<Record<string, unknown>>("POST", `/v1/ops/archive/${day}`, OPERATOR_TOKEN));
    while (calls.at(-1)?.state === "writing");
    const report = calls.at(-1) as Record<string, unknown>;
    const writing = calls.filter((c) => c.written === 1);
    const checking = calls.slice(writing.length, -1);
    expect(writing.length).toBeGreaterThan(4);
    for (const call of calls.slice(0, writing.length - 1)) expect(call).toMatchObject({ state: "writing", written: 1 });
    expect(checking.length).toBeGreaterThan(2);
    for (const [i, call] of checking.entries()) {
      expect(call).toMatchObject({ state: "writing", written: 0 });
      expect(call.detail).toBe(
        `read back and checked ${i + 1} of ${report.objects} objects; stopped at its deadline, the next run goes on`,
      );
    }
    expect(report).toMatchObject({ day, state: "dropped", detail: null });
    expect(report.rows).toBe(codes.length);
    expect(report.dropped).toBe(codes.length);
    const [part] = await stack.sql<{ p: string | null }>("SELECT to_regclass($1)::text AS p", [
      `receipts_${day.replaceAll("-", "")}`,
    ]);
    expect(part?.p).toBeNull();
    // No duplicates and no gaps: each shard's parts in order, each starting after the last one's end.
    const objects = await stack.sql<{ shard: number; part: number; rows: number; first: string; last: string }>(
      `SELECT shard, part, rows, first_counter AS first, last_counter AS last
         FROM archive_objects WHERE day = $1::date ORDER BY shard, part`,
      [day],
    );
    expect(objects.reduce((n, o) => n + o.rows, 0)).toBe(codes.length);
    for (const [i, o] of objects.entries()) {
      const previous = objects[i - 1]?.shard === o.shard ? objects[i - 1] : undefined;
      expect(o.part).toBe(previous ? previous.part + 1 : 0);
      expect(Number(o.first)).toBe(previous ? Number(previous.last) + 1 : 1);
      expect(Number(o.last) - Number(o.first) + 1).toBe(o.rows);
    }
    const [held] = await stack.sql<{ n: string }>("SELECT count(*) AS n FROM receipts WHERE code = ANY($1)", [
      codes.map((c) => c.replaceAll("-", "")),
    ]);
    expect(Number(held?.n)).toBe(0);

    const after = await verifyAll(codes);
    for (const [i, v] of after.entries()) {
      expect(v).toMatchObject({ status: "valid", persisted: true, total: before[i]?.total });
      expect(v.proof).toEqual(before[i]?.proof);
    }
    const page = await fetch(`${stack.baseUrl}/r/${codes[7]}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Brot 7");
  });

  it("is audited from the archive: every archived receipt checked against its log leaf, and the rollups of archived days left alone", async () => {
    const report = await audit(true);
    expect(report.shards.flatMap((s) => s.problems)).toEqual([]);
    expect(report.checked).toBe(codes.length);
    expect(report.rollups?.archivedThrough).not.toBeNull();
    // The objects come through the operator's route: without the token the audit says so, rather than miss them.
    await expect(runAudit({ ...auditTarget(stack), graceMs: 1_000 })).rejects.toThrow(/needs --operator-token/);
    const anonymous = await fetch(`${stack.baseUrl}/v1/ops/archive/object?key=archive/v1/x`);
    expect(anonymous.status).toBe(401);
    const sneaky = await fetch(`${stack.baseUrl}/v1/ops/archive/object?key=archive/v1/../../secrets`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(sneaky.status).toBe(400);
  });

  it("can be queried by DuckDB as it stands: each store's receipts and gross equal the analytics rollups", async () => {
    const files = parquetFiles(storage);
    const duck = await DuckDBInstance.create(":memory:");
    const db = await duck.connect();
    try {
      const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(", ");
      const reader = await db.runAndReadAll(
        `SELECT store_id, count(*)::INTEGER AS receipts, sum(total)::BIGINT AS gross
           FROM read_parquet([${list}]) WHERE tenant_id = 'arch' GROUP BY store_id ORDER BY store_id`,
      );
      const fromArchive = reader.getRowObjectsJS().map((r) => ({ ...r, gross: Number(r.gross) }));
      const fromRollups = await stack.sql<{ store_id: string; receipts: number; gross: number }>(
        `SELECT store_id, sum(receipts)::int AS receipts, sum(gross)::float8 AS gross
           FROM sales_rollup WHERE tenant_id = 'arch' GROUP BY store_id ORDER BY store_id`,
      );
      expect(fromArchive).toHaveLength(4);
      expect(fromArchive).toEqual(fromRollups);
    } finally {
      db.closeSync();
      duck.closeSync();
    }
  });

  it("has its rollups rebuilt from the archive by npm run analytics:rebuild, and never wiped by one that cannot read it", async () => {
    const rollups = async () => ({
      sales: await stack.sql(
        "SELECT store_id, hour, day::text, receipts, gross, cash FROM sales_rollup WHERE tenant_id = 'arch' ORDER BY 1, 2",
      ),
      tax: await stack.sql(
        "SELECT store_id, hour, rate, receipts, gross FROM tax_rollup WHERE tenant_id = 'arch' ORDER BY 1, 2, 3",
      ),
      items: await stack.sql(
        "SELECT store_id, day::text, item_key, quantity, revenue, receipts FROM item_rollup WHERE tenant_id = 'arch' ORDER BY 1, 2, 3",
      ),
    });
    const kept = await rollups();
    expect(kept.items).toHaveLength(codes.length);
    // The receipts were issued on 2026-11-21 (Berlin) and received today, whose partition is gone.
    const range = { databaseUrl: stack.databaseUrl, from: "2026-11-21", to: "2026-11-21" };
    // Without the operator's token the archived receipts cannot be read: refused, and nothing wiped.
    await expect(runRebuild(range)).rejects.toThrow(/archived/);
    expect(await rollups()).toEqual(kept);
    // An insider's edit of the figures is undone from the archive's receipts.
    await stack.sql("UPDATE sales_rollup SET gross = gross + 1000 WHERE tenant_id = 'arch'");
    await stack.sql("DELETE FROM item_rollup WHERE tenant_id = 'arch' AND store_id = 'north'");
    const rebuilt = await runRebuild({ ...range, url: stack.baseUrl, operatorToken: OPERATOR_TOKEN });
    expect(rebuilt.archived).toBe(codes.length);
    expect(rebuilt.receipts).toBe(codes.length);
    expect(await rollups()).toEqual(kept);
  });

  it("sends a webhook delivery of an archived receipt, its receipt read back from R2", async () => {
    const eventId = `evt_${westCode.replaceAll("-", "")}`;
    const path = `/v1/tenants/arch/webhooks/erp/deliveries`;
    type Delivery = { eventId: string; status: string; attempts: number; lastStatus: number | null };
    const [pending] = (await api<{ deliveries: Delivery[] }>("GET", `${path}?status=pending`, tenantKey)).deliveries;
    expect(pending).toMatchObject({ eventId, status: "pending", attempts: 1, lastStatus: 503 });
    erp.up = true;
    const { delivery } = await api<{ delivery: Delivery }>("POST", `${path}/${eventId}/retry`, tenantKey);
    expect(delivery).toMatchObject({ eventId, status: "delivered", lastStatus: 204 });
    const [sent] = erp.received;
    expect(sent?.eventId).toBe(eventId);
    const receipt = (JSON.parse(sent?.body ?? "{}") as { data: { receipt: { code: string; total: number } } }).data
      .receipt;
    expect(receipt).toMatchObject({ code: westCode, total: 450 });
  });

  it("is idempotent: a rerun writes nothing and reports the day dropped", async () => {
    const again = await archiveByHand(stack.baseUrl, OPERATOR_TOKEN, day);
    expect(again).toMatchObject({ state: "dropped", written: 0, dropped: 0, rows: codes.length });
  });

  it("refuses a day that is not one, and a day that never had receipts is absent", async () => {
    const bad = await fetch(`${stack.baseUrl}/v1/ops/archive/yesterday`, {
      method: "POST",
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_id");
    expect(await archiveByHand(stack.baseUrl, OPERATOR_TOKEN, "2001-01-01")).toMatchObject({ state: "absent" });
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const early = await fetch(`${stack.baseUrl}/v1/ops/archive/${tomorrow}`, {
      method: "POST",
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe("too_recent");
  });

  it("never drops a partition whose rows the archive's records do not add up to, even a day marked verified", async () => {
    await stack.sql(
      "CREATE TABLE receipts_20010102 PARTITION OF receipts FOR VALUES FROM ('2001-01-02 00:00+00') TO ('2001-01-03 00:00+00')",
    );
    await stack.sql("INSERT INTO archive_days (day, state) VALUES ('2001-01-02', 'verified')");
    await stack.sql(
      `INSERT INTO archive_objects (day, shard, part, key, rows, first_counter, last_counter, last_code, sha256, bytes)
       VALUES ('2001-01-02', 1, 0, 'forged', 5, 1, 5, 'X', repeat('0', 64), 1)`,
    );
    await expect(stack.sql("SELECT tillproof_drop_archived_day('2001-01-02')")).rejects.toThrow(
      "day 2001-01-02: 0 rows in Postgres, 5 archived",
    );
    const [part] = await stack.sql<{ p: string | null }>("SELECT to_regclass('receipts_20010102')::text AS p");
    expect(part?.p).toBe("receipts_20010102");
    await stack.sql("DROP TABLE receipts_20010102");
    await stack.sql("DELETE FROM archive_objects WHERE day = '2001-01-02'");
    await stack.sql("DELETE FROM archive_days WHERE day = '2001-01-02'");
  });

  it("shows an archived receipt whose object an insider edited as tampered, and one whose object is gone as missing", async () => {
    // The insider rewrites one object with one sale's total changed, and its size where Postgres keeps it.
    const [target] = await stack.sql<{ key: string; bytes: string }>(
      "SELECT key, bytes FROM archive_objects WHERE day = $1::date ORDER BY shard LIMIT 1",
      [day],
    );
    const file = await fileOf(target?.key ?? "");
    expect(file).toBeDefined();
    const original = readFileSync(file as string);
    const rows = await decodeRows({ byteLength: original.length, slice: (s, e) => bufferOf(original.subarray(s, e)) });
    const victim = rows[3] as ArchivedReceipt;
    victim.record.total += 1;
    const forged = Buffer.from(encodeObject(rows));
    writeFileSync(file as string, forged);
    await stack.sql("UPDATE archive_objects SET bytes = $2 WHERE key = $1", [target?.key, forged.length]);
    const edited = (await verifyAll(codes)).filter((v) => v.status !== "valid");
    expect(edited).toHaveLength(1);
    expect(edited[0]).toMatchObject({ status: "tampered", persisted: true, total: victim.record.total });
    const tampered = (await audit()).shards.flatMap((s) => s.problems);
    expect(tampered).toContainEqual({
      kind: "altered",
      code: victim.record.code,
      detail: "the record no longer hashes to its hash",
    });
    expect(tampered).toContainEqual(
      expect.objectContaining({ kind: "archive", code: target?.key, detail: expect.stringContaining("SHA-256") }),
    );

    // An object lost from R2: its receipts read as missing (the log still has them), never as not found.
    const [gone] = await stack.sql<{ key: string; first_counter: string }>(
      "SELECT key, first_counter FROM archive_objects WHERE day = $1::date ORDER BY shard LIMIT 1",
      [day],
    );
    await stack.sql("UPDATE archive_objects SET key = key || '.lost' WHERE key = $1", [gone?.key]);
    const statuses = (await verifyAll(codes)).map((v) => v.status);
    expect(statuses.filter((s) => s === "missing").length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === "missing").length).toBeLessThan(codes.length);
    const lost = (await audit()).shards.flatMap((s) => s.problems);
    expect(lost).toContainEqual(
      expect.objectContaining({ kind: "archive", code: `${gone?.key}.lost`, detail: expect.stringContaining("gone") }),
    );
    expect(lost.filter((p) => p.kind === "missing")).toHaveLength(statuses.filter((s) => s === "missing").length);

    // The other object cut short in R2, its recorded size left as it was: one more problem, not an aborted audit.
    const [cut] = await stack.sql<{ key: string; bytes: string }>(
      "SELECT key, bytes FROM archive_objects WHERE day = $1::date AND key <> $2 ORDER BY shard LIMIT 1",
      [day, `${gone?.key}.lost`],
    );
    const cutFile = await fileOf(cut?.key ?? "");
    writeFileSync(cutFile as string, readFileSync(cutFile as string).subarray(0, 1000));
    const short = (await audit()).shards.flatMap((s) => s.problems);
    expect(short).toContainEqual(
      expect.objectContaining({ kind: "archive", code: cut?.key, detail: expect.stringContaining("cannot be read") }),
    );
    const unread = await stack.sql<{ n: string }>("SELECT sum(rows) AS n FROM archive_objects WHERE key IN ($1, $2)", [
      `${gone?.key}.lost`,
      cut?.key,
    ]);
    expect(short.filter((p) => p.kind === "missing")).toHaveLength(Number(unread[0]?.n));
  });
});
