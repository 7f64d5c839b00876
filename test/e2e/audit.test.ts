/**
 * `npm run audit` against a real stack: receipts issued through the API,
 * persisted and signed, then tampered with as an insider with database access
 * would (edit, delete, truncate a day's partition). The audit must list each
 * one by code and exit 1; on an intact database it exits 0.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeRoute, encodeCode, shardCodeRange } from "../../core/code.ts";
import { type AuditOptions, runAudit } from "../../scripts/audit.ts";
import { auditTarget, CODE_KEY, OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";
import { insiderSql, insiderTruncateSql } from "../insider.ts";
import { stackJson, until } from "./helpers.ts";

let stack: Stack;

const api = <T>(method: string, path: string, token: string, body?: unknown) =>
  stackJson<T>(stack, method, path, token, body);

const sale = {
  issuedAt: "2026-11-21T10:15:00+01:00",
  currency: "EUR",
  items: [{ name: "Bread", quantity: 1, unitPrice: 300, total: 300 }],
  total: 300,
  payments: [{ method: "cash", amount: 300 }],
};

const codes: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  const { apiKey } = await api<{ apiKey: string }>("POST", "/v1/tenants", OPERATOR_TOKEN, {
    id: "audit",
    name: "Audit",
  });
  for (const store of ["north", "south"]) {
    await api("PUT", `/v1/tenants/audit/stores/${store}`, apiKey, { name: store, timezone: "UTC" });
    const { token } = await api<{ token: string }>("POST", `/v1/tenants/audit/stores/${store}/terminals`, apiKey, {
      id: "till",
    });
    const { results } = await api<{ results: { receipt: { code: string } }[] }>("POST", "/v1/receipts/batch", token, {
      receipts: Array.from({ length: 20 }, (_, i) => ({ idempotencyKey: `${store}-${i}`, ...sale })),
    });
    codes.push(...results.map((r) => r.receipt.code.replaceAll("-", "")));
  }
  await until(async () => {
    const [row] = await stack.sql<{ n: string }>("SELECT count(*) AS n FROM receipts");
    return Number(row?.n) === codes.length;
  }, "receipts persisted");
  await until(async () => {
    const checks = await Promise.all(
      codes.map((c) => fetch(`${stack.baseUrl}/v1/verify/${c}`).then((r) => r.json() as Promise<{ proof: unknown }>)),
    );
    return checks.every((c) => c.proof !== null);
  }, "checkpoints covering every receipt");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const audit = (more: Partial<AuditOptions> = {}) =>
  runAudit({
    ...auditTarget(stack),
    graceMs: 1_000,
    ...more,
  });

/** Runs SQL as a superuser with the append-only trigger off (what the audit exists to catch). */
const asInsider = (statement: string) => stack.sql(insiderSql(statement));

describe("npm run audit", () => {
  it("passes an intact database", async () => {
    const report = await audit();
    expect(report.checked).toBe(codes.length);
    expect(report.problems).toBe(0);
  });

  it("recomputes each day's rollups from the receipts (--rollups): the Worker's role cannot write them, and what the owner changed is found", async () => {
    const clean = await audit({ rollups: true });
    expect(clean.problems).toBe(0);
    expect(clean.rollups).toEqual({ receipts: codes.length, days: 2, archivedThrough: null });
    // The runtime role only reads them: the receipts INSERT's trigger adds, as the owner.
    for (const write of [
      "UPDATE sales_rollup SET gross = gross + 1",
      "INSERT INTO tax_rollup (tenant_id, store_id, currency, hour, day, rate, receipts, gross) VALUES ('audit', 'north', 'EUR', now(), current_date, '0', 1, 1)",
      "PERFORM tillproof_rollups_add(ARRAY(SELECT r FROM receipts r LIMIT 1))",
    ]) {
      await expect(stack.sql(`DO $$ BEGIN SET LOCAL ROLE tillproof_app; ${write}; END $$`)).rejects.toThrow(
        /permission denied/,
      );
    }
    // The owner still can (an insider): the tax CSV's figure no longer adds up, and the audit says where.
    await stack.sql("UPDATE sales_rollup SET gross = gross - 100, cash = cash - 100 WHERE store_id = 'north'");
    try {
      const report = await audit({ rollups: true });
      const found = report.shards.flatMap((s) => s.problems).filter((p) => p.kind === "rollup");
      expect(found).toEqual([
        {
          kind: "rollup",
          code: "audit/north EUR 2026-11-21",
          detail:
            "sales rollup differs from its receipts: gross 5900 stored, 6000 recomputed; cash 5900 stored, 6000 recomputed",
        },
      ]);
      expect(report.problems).toBe(1);
    } finally {
      await stack.sql("UPDATE sales_rollup SET gross = gross + 100, cash = cash + 100 WHERE store_id = 'north'");
    }
  });

  it("lists an edited, a re-hashed and a deleted receipt by code", async () => {
    const [edited, rehashed, deleted] = [codes[3], codes[25], codes[30]];
    await asInsider(`UPDATE receipts SET total = 1 WHERE code = '${edited}'`);
    await asInsider(`UPDATE receipts SET hash = repeat('a', 64) WHERE code = '${rehashed}'`);
    await asInsider(`DELETE FROM receipts WHERE code = '${deleted}'`);
    const report = await audit();
    const found = report.shards.flatMap((s) => s.problems);
    expect(found).toContainEqual(expect.objectContaining({ kind: "altered", code: edited }));
    expect(found).toContainEqual(expect.objectContaining({ kind: "altered", code: rehashed }));
    expect(found).toContainEqual(
      expect.objectContaining({
        kind: "missing",
        code: expect.stringMatching(`^${deleted} \\(shard \\d+ entry \\d+\\)$`),
      }),
    );
    expect(found.filter((p) => p.kind === "altered" || p.kind === "missing")).toHaveLength(3);
  });

  it("flags rows an insider inserted: a genuine-looking code far past the log, and a code never issued", async () => {
    const route = codeRoute(codes[0] ?? "");
    if (!route) throw new Error("no route");
    const ahead = encodeCode(CODE_KEY, { shard: route.shard, counter: 2 ** 46 });
    const fake = encodeCode("not-the-code-key", { shard: route.shard, counter: 2 ** 45 });
    // A 16-character code for a counter the shard issued as 20 characters: it must not derail the walk.
    const oldLayout = encodeCode("not-the-code-key", { shard: route.shard, counter: 3 }, 1);
    // A genuine-looking code on a shard past SHARD_COUNT (4 here), where no log is looked for.
    const elsewhere = encodeCode(CODE_KEY, { shard: 6, counter: 1 });
    // A row that names no shard at all, placed just before it: it must not hide the rows after it.
    const junk = `${shardCodeRange(4, 2).lo.slice(0, -1)}U`;
    // Each with a seq of its own: Postgres refuses a second (tenant, store, seq) even from its superuser.
    for (const [i, code] of [ahead, fake, oldLayout, elsewhere, junk].entries()) {
      await stack.sql(
        `INSERT INTO receipts (code, received_at, tenant_id, store_id, terminal_id, seq, issued_at, currency, total,
                               items, payments, hash, prev_hash)
         SELECT $1, now() - interval '5 minutes', tenant_id, store_id, terminal_id, seq + 1000 + $3, issued_at,
                currency, total, items, payments, hash, prev_hash FROM receipts WHERE code = $2`,
        [code, codes[0], i],
      );
    }
    const started = Date.now();
    const found = (await audit()).shards.flatMap((s) => s.problems);
    expect(Date.now() - started).toBeLessThan(20_000); // a counter of 2^46 does not make it walk 2^46 entries
    expect(found).toContainEqual(expect.objectContaining({ kind: "not_in_log", code: ahead }));
    expect(found).toContainEqual(expect.objectContaining({ kind: "bad_code", code: fake }));
    expect(found).toContainEqual(expect.objectContaining({ kind: "bad_code", code: oldLayout }));
    expect(found).toContainEqual(expect.objectContaining({ kind: "not_in_log", code: elsewhere }));
    expect(found).toContainEqual(expect.objectContaining({ kind: "not_in_log", code: junk }));
    // Still exactly the one receipt deleted above is missing, and the edited ones still show.
    expect(found.filter((p) => p.kind === "missing")).toHaveLength(1);
    expect(found.filter((p) => p.kind === "altered" && codes.includes(p.code))).toHaveLength(2);
  });

  it("finds a truncated day's partition, and the command exits 1 listing every code", async () => {
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    // The Worker's own role cannot; a superuser turns the partition's trigger off first.
    await expect(stack.sql(`TRUNCATE receipts_${day}`)).rejects.toThrow(/append-only/);
    await stack.sql(insiderTruncateSql(`receipts_${day}`));
    const report = await audit();
    const missing = report.shards.flatMap((s) => s.problems).filter((p) => p.kind === "missing");
    expect(missing.map((p) => p.code.split(" ")[0]).sort()).toEqual([...codes].sort());
    // Async: this process also serves the stack's Postgres tunnel, so it must not block while the CLI runs.
    const cli = await new Promise<{ status: number | null; stdout: string }>((done) => {
      execFile(
        resolve(import.meta.dirname, "../../node_modules/.bin/node"),
        [
          "scripts/audit.ts",
          ...["--database-url", stack.databaseUrl, "--url", stack.baseUrl, "--code-key", CODE_KEY],
          ...["--shard-count", "4", "--quiet"],
        ],
        { cwd: resolve(import.meta.dirname, "../..") },
        (error, stdout) => done({ status: error ? ((error as { code?: number }).code ?? null) : 0, stdout }),
      );
    });
    expect(cli.status).toBe(1);
    for (const code of codes) expect(cli.stdout).toContain(code);
    expect(cli.stdout).toMatch(/problem\(s\) — FAILED/);
  });
});
