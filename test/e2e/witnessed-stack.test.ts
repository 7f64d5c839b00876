/**
 * The gateway with the shipped witness, both in workerd over HTTP: a receipt
 * verifies `witnessed` once the witness cosigned a checkpoint covering it, the
 * proof's checkpoint carries that cosignature, /v1/log/witnesses pins the
 * witness, and the checkpoint stays retrievable by its size. With the witness
 * gone, a new receipt still verifies as valid but says `witnessed: false`, has
 * no proof, and the shard reports how long its checkpoint has waited.
 */

import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStorage, type MonitorState, TerminalClient } from "../../clients/terminal/index.ts";
import { runAudit } from "../../scripts/audit.ts";
import {
  auditTarget,
  callStack,
  OPERATOR_TOKEN,
  type Stack,
  stackTerminal,
  startStack,
} from "../../scripts/lib/stack/local.ts";
import { cosignatureCount, cosignerOf, cosignerVkey, parseCosignerVkey } from "../../tlog/cosignature.ts";
import type { Pins } from "../../tlog/monitor.ts";
import {
  formatCheckpoint,
  generateSigningKey,
  parseCheckpoint,
  parseSigningKey,
  signNote,
  splitNote,
} from "../../tlog/note.ts";

let stack: Stack;
let token: string;

const sale = (total: number) => ({
  issuedAt: "2026-12-06T10:15:00+01:00",
  currency: "EUR",
  items: [{ name: "Bread", quantity: 1, unitPrice: total, total }],
  total,
  payments: [{ method: "cash" as const, amount: total }],
});

async function until<T>(probe: () => Promise<T | null>, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what}\n${stack.logs().slice(-20).join("\n")}`);
}

type Verified = {
  status: string;
  witnessed: boolean;
  proof: { shard: number; treeSize: number; checkpoint: string } | null;
};
const verify = async (code: string) => (await (await fetch(`${stack.baseUrl}/v1/verify/${code}`)).json()) as Verified;

async function issue(key: string, total: number): Promise<string> {
  const res = await callStack(stack, "POST", "/v1/receipts", token, sale(total), { "idempotency-key": key });
  expect(res.status).toBe(201);
  return (JSON.parse(res.text) as { code: string }).code;
}

beforeAll(async () => {
  stack = await startStack({ witness: true });
  token = await stackTerminal(stack, "witnessed", "Witnessed Bakery");
}, 120_000);
afterAll(() => stack?.stop());

describe("a gateway with its witness", () => {
  it("verifies a receipt as witnessed, against a checkpoint the witness cosigned, kept by its size", async () => {
    const witness = stack.witness!;
    const pins = (await (await fetch(`${stack.baseUrl}/v1/log/witnesses`)).json()) as {
      quorum: number;
      witnesses: { vkey: string }[];
    };
    expect(pins.quorum).toBe(1);
    expect(pins.witnesses.map((w) => w.vkey)).toEqual([witness.vkey]);

    const code = await issue("w-1", 300);
    const v = await until(async () => {
      const r = await verify(code);
      return r.witnessed ? r : null;
    }, "the receipt is witnessed");
    expect(v.status).toBe("valid");
    const cosigner = (await parseCosignerVkey(witness.vkey))!;
    expect(await cosignatureCount(v.proof?.checkpoint ?? "", [cosigner])).toBe(1);

    const served = await (await fetch(`${stack.baseUrl}/v1/log/${v.proof?.shard}/checkpoint`)).text();
    expect(await cosignatureCount(served, [cosigner])).toBe(1);
    const atSize = await fetch(`${stack.baseUrl}/v1/log/${v.proof?.shard}/checkpoint/${v.proof?.treeSize}`);
    expect(atSize.status).toBe(200);
    expect(await atSize.text()).toBe(v.proof?.checkpoint);
    expect((await fetch(`${stack.baseUrl}/v1/log/${v.proof?.shard}/checkpoint/999999`)).status).toBe(404);
  });

  it("npm run audit pins the witness quorum and keeps each shard's checkpoint; a fork since the kept one fails it", async () => {
    await until(async () => {
      const [row] = await stack.sql<{ n: string }>("SELECT count(*) AS n FROM receipts");
      return Number(row?.n) >= 1 ? true : null;
    }, "the receipt persisted");
    const policy = (await (await fetch(`${stack.baseUrl}/v1/log/witnesses`)).json()) as Pins;
    const state = await mkdtemp(join(tmpdir(), "audit-state-"));
    const audit = (pins: Pins) =>
      runAudit({
        ...auditTarget(stack),
        graceMs: 1_000,
        pins,
        stateDir: state,
      });

    const clean = await audit(policy);
    expect(clean.problems).toBe(0);
    const [kept] = await readdir(state);
    expect(kept).toMatch(/^browser\.test%2Flog%2F\d\.checkpoint$/);
    const keptNote = await readFile(join(state, kept ?? ""), "utf8");

    // A policy demanding a second witness: no checkpoint meets it, and the kept one stays as it was.
    const absent = cosignerVkey(
      await cosignerOf(await parseSigningKey((await generateSigningKey("absent")).privateKey)),
    );
    const strict = await audit({ ...policy, witnesses: [...policy.witnesses, { vkey: absent }], quorum: 2 });
    expect(strict.shards.flatMap((s) => s.problems)).toContainEqual(
      expect.objectContaining({ kind: "checkpoint", detail: expect.stringMatching(/below the quorum of 2/) }),
    );
    expect(await readFile(join(state, kept ?? ""), "utf8")).toBe(keptNote);

    // The operator once showed this auditor another history (signed with the log's own key): the log is not its extension.
    const seen = parseCheckpoint(splitNote(keptNote)?.text ?? "");
    const forged = await signNote(
      formatCheckpoint({ origin: seen?.origin ?? "", size: seen?.size ?? 1, root: new Uint8Array(32).fill(7) }),
      await parseSigningKey(stack.logSigningKey),
    );
    await writeFile(join(state, kept ?? ""), forged);
    const forkedReport = await audit(policy);
    expect(forkedReport.shards.flatMap((s) => s.problems)).toContainEqual(
      expect.objectContaining({ kind: "fork", detail: expect.stringMatching(/split view|fork/) }),
    );
    expect(await readFile(join(state, kept ?? ""), "utf8")).toBe(forged);
  });

  it("a terminal audits its own receipts: included and witnessed, then a fork and a changed receipt are events", async () => {
    const monitor = new MemoryStorage<MonitorState>();
    const till = new TerminalClient({ baseUrl: stack.baseUrl, token, monitor, channel: false });
    const sold = [await till.issueReceipt(sale(120)), await till.issueReceipt(sale(130))];
    // Each audit reports what it confirmed in that pass: one receipt may be witnessed a pass before the other.
    const confirmed: string[] = [];
    const clean = await until(async () => {
      const report = await till.auditOwnReceipts();
      confirmed.push(...report.confirmed);
      expect(report.events).toEqual([]);
      return report.waiting === 0 ? report : null;
    }, "both receipts witnessed");
    expect(clean.events).toEqual([]);
    expect(confirmed.sort()).toEqual(sold.map((r) => r.code).sort());

    // The gateway once showed this till another tree of the size it kept; and a receipt the log holds another hash for.
    const state = (await monitor.load()) as MonitorState;
    const [origin] = Object.keys(state.kept);
    const forgedHash = "ab".repeat(32);
    const other = await till.issueReceipt(sale(140));
    await monitor.save({
      ...state,
      kept: { [origin ?? ""]: { size: state.kept[origin ?? ""]?.size ?? 1, root: "07".repeat(32) } },
      watching: [{ code: other.code, hash: forgedHash, receivedAt: other.receivedAt }],
    });
    const forked = await till.auditOwnReceipts();
    expect(forked.events).toContainEqual(expect.objectContaining({ kind: "fork", origin }));
    const mine = await till.issueReceipt(sale(150));
    await monitor.save({ ...state, watching: [{ code: mine.code, hash: forgedHash, receivedAt: mine.receivedAt }] });
    const changed = await until(async () => {
      const report = await till.auditOwnReceipts();
      return report.events.length ? report : null;
    }, "the forged receipt looked at");
    expect(changed.events).toEqual([expect.objectContaining({ kind: "mismatch", code: mine.code })]);
  });

  it("with the witness gone, a new receipt is valid but unwitnessed, without a proof, and the wait is reported", async () => {
    await stack.witness?.dispose();
    const code = await issue("w-2", 400);

    // Past several checkpoint intervals (CHECKPOINT_MS 50) and retries: still not witnessed.
    await new Promise((r) => setTimeout(r, 2_500));
    const v = await verify(code);
    expect(v.status).toBe("valid");
    expect(v.witnessed).toBe(false);
    expect(v.proof).toBeNull();
    const metrics = await until(async () => {
      const text = await (
        await fetch(`${stack.baseUrl}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })
      ).text();
      return /tillproof_unwitnessed_seconds\{shard="\d+"\} [1-9]/.test(text) ? text : null;
    }, "the shard reports its unwitnessed checkpoint");
    expect(metrics).toContain("tillproof_unwitnessed_seconds");
  });
});
