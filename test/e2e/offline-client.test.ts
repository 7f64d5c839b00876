/**
 * Offline receipts through the terminal client (clients/terminal) against a
 * real local stack behind a TCP proxy that goes down (contract v1.2): the till
 * enrolls its key, sells offline and prints QR codes anyone can check with the
 * published key alone, restarts mid-outage, loses one receipt from its
 * storage, and registers the rest once the network is back: in order, each
 * once, with codes, one of them late and the lost one reported as a gap.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FileStorage,
  MemoryStorage,
  type OfflineState,
  type SaleInput,
  TerminalClient,
} from "../../clients/terminal/index.ts";
import { checkOfflinePayload, checkSignedQr, decodeOfflinePayload, decodeSignedQr } from "../../core/offline.ts";
import { callStack, OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";
import { startTcpProxy, type TcpProxy } from "../../scripts/lib/stack/tcp-proxy.ts";
import { parseVerifierKey } from "../../tlog/note.ts";

let stack: Stack;
let proxy: TcpProxy;
let apiKey = "";
let certKey: Uint8Array;
const tenantId = `offline-${Date.now().toString(36)}`;
const stateFile = join(mkdtempSync(join(tmpdir(), "tillproof-offline-")), "terminal.json");
const HOUR = 3_600_000;

/** Sale number n: its total is 2000 + n, so each sale can be found in Postgres. */
const sale = (n: number): SaleInput => ({
  issuedAt: new Date().toISOString(),
  currency: "EUR",
  items: [{ name: `Offline sale ${n}`, quantity: 1, unitPrice: 2000 + n, total: 2000 + n }],
  total: 2000 + n,
  payments: [{ method: "cash", amount: 2000 + n }],
});

const quick = { attempts: 2, backoffMs: 20, maxBackoffMs: 50, timeoutMs: 5_000 };

beforeAll(async () => {
  stack = await startStack();
  const t = await callStack(stack, "POST", "/v1/tenants", OPERATOR_TOKEN, { id: tenantId, name: "Offline test" });
  apiKey = t.body.apiKey ?? "";
  await callStack(stack, "PUT", `/v1/tenants/${tenantId}/stores/main`, apiKey, {
    name: "Main",
    timezone: "Europe/Berlin",
  });
  const w = await fetch(`${stack.baseUrl}/v1/log/witnesses`).then(
    (r) => r.json() as Promise<{ terminalCertKey: string }>,
  );
  const key = await parseVerifierKey(w.terminalCertKey);
  if (!key) throw new Error("the stack publishes no terminal certificate key");
  certKey = key.publicKey;
  const target = new URL(stack.baseUrl);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
});

describe("the terminal client offline", () => {
  it("prints checkable receipts through an outage and a restart, then registers them in order, each once", async () => {
    let clock = Date.now();
    const options = { ...quick, offlineBudget: { hours: 100, count: 50 }, now: () => clock };
    const first = await TerminalClient.enroll({
      baseUrl: proxy.url,
      tenantKey: apiKey,
      tenantId,
      storeId: "main",
      terminalId: "till-1",
      storage: new FileStorage<OfflineState>(stateFile),
      client: options,
    });
    const online = await first.sell(sale(0));
    if (!("receipt" in online)) throw new Error("expected an online receipt");
    const qr = decodeSignedQr(online.receipt.signedQr ?? "");
    expect(qr && (await checkSignedQr(qr, [certKey]))).toBe(true);

    proxy.mode("down");
    const printed: string[] = [];
    const sellOffline = async (client: TerminalClient, n: number) => {
      const r = await client.sell(sale(n));
      if (!("offline" in r)) throw new Error(`sale ${n} was not made offline`);
      expect(r.offline.qr.startsWith(`${proxy.url}/o#`)).toBe(true);
      const p = decodeOfflinePayload(r.offline.qr);
      expect(p).toMatchObject({ t: tenantId, s: "main", d: "till-1", n: printed.length + 1, m: 2000 + n, c: "EUR" });
      expect(p && (await checkOfflinePayload(p, [certKey]))).toEqual({
        certificate: true,
        signature: true,
        inValidity: true,
      });
      printed.push(r.offline.qr);
    };
    // The first offline sale is signed 73 hours ago: it will register late.
    clock = Date.now() - 73 * HOUR;
    await sellOffline(first, 1);
    clock = Date.now();
    for (let n = 2; n <= 10; n++) await sellOffline(first, n);

    // The till restarts mid-outage: a new client over the same storage goes on from terminalSeq 11.
    const stored = JSON.parse(readFileSync(stateFile, "utf8")) as OfflineState;
    const second = new TerminalClient({
      baseUrl: proxy.url,
      token: stored.identity.token,
      offline: new FileStorage<OfflineState>(stateFile),
      ...options,
    });
    for (let n = 11; n <= 21; n++) await sellOffline(second, n);
    expect((await second.offlinePending()).map((o) => o.terminalSeq)).toEqual(
      Array.from({ length: 21 }, (_, i) => i + 1),
    );

    // One receipt is lost from the till's storage: the gateway will see a gap at 8.
    const damaged = JSON.parse(readFileSync(stateFile, "utf8")) as OfflineState;
    damaged.pending = damaged.pending.filter((o) => o.terminalSeq !== 8);
    writeFileSync(stateFile, JSON.stringify(damaged));

    // Still down: nothing is sent, nothing is lost.
    await expect(second.flush()).rejects.toMatchObject({ name: "UnavailableError" });
    expect(await second.offlinePending()).toHaveLength(20);

    proxy.mode("up");
    const flushed = await second.flush();
    expect(flushed.rejected).toEqual([]);
    expect(flushed.registered.map((r) => r.terminalSeq)).toEqual([1, 2, 3, 4, 5, 6, 7, 9, 10, ...range(11, 21)]);
    expect(await second.offlinePending()).toEqual([]);
    const seqs = flushed.registered.map((r) => r.receipt.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b)); // registered in the order they were made
    expect(flushed.registered[0]?.receipt.late).toBe(true);
    expect(flushed.registered.filter((r) => r.receipt.late)).toHaveLength(1);
    // A second flush sends nothing; the mapping is kept.
    expect((await second.flush()).registered).toEqual([]);
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as OfflineState;
    expect(state.registered.map((r) => r.terminalSeq)).toEqual(flushed.registered.map((r) => r.terminalSeq));

    // Each sale is in Postgres exactly once.
    const rows = await eventually(async () => {
      const r = await stack.sql<{ total: string; n: string }>(
        "SELECT total::text, count(*)::text AS n FROM receipts WHERE tenant_id = $1 GROUP BY total ORDER BY total",
        [tenantId],
      );
      return r.length === 21 ? r : null;
    });
    expect(rows.map((r) => Number(r.total))).toEqual([
      2000,
      ...range(1, 21)
        .filter((n) => n !== 8)
        .map((n) => 2000 + n),
    ]);
    expect(rows.every((r) => r.n === "1")).toBe(true);

    // Each printed QR now finds its registered receipt; the lost one does not.
    const bySeq = await fetch(`${stack.baseUrl}/v1/verify/offline/${tenantId}/main/till-1/5`);
    expect(bySeq.status).toBe(200);
    const lost = await fetch(`${stack.baseUrl}/v1/verify/offline/${tenantId}/main/till-1/8`);
    expect(lost.status).toBe(404);

    // The operator sees the gap and the late receipt.
    const status = await callStack(stack, "GET", "/v1/ops/status", OPERATOR_TOKEN);
    const report = JSON.parse(status.text) as {
      shards: { offline: { terminals: { terminal: string; gaps: number; late: number; backlog: number }[] } }[];
    };
    const till = report.shards
      .flatMap((s) => s.offline.terminals)
      .find((t) => t.terminal === `${tenantId}/main/till-1`);
    expect(till).toMatchObject({ gaps: 1, late: 1, backlog: 0 });
  });

  it("refuses to sell past its offline budget, and says why", async () => {
    let clock = Date.now();
    const storage = new MemoryStorage<OfflineState>();
    const client = await TerminalClient.enroll({
      baseUrl: proxy.url,
      tenantKey: apiKey,
      tenantId,
      storeId: "main",
      terminalId: "till-budget",
      storage,
      client: { ...quick, offlineBudget: { hours: 24, count: 3 }, now: () => clock },
    });
    proxy.mode("down");
    try {
      for (const n of [1, 2, 3]) expect("offline" in (await client.sell(sale(100 + n)))).toBe(true);
      await expect(client.sell(sale(104))).rejects.toMatchObject({ name: "OfflineBudgetError", reason: "count" });
      const state = (await storage.load()) as OfflineState;
      await storage.save({ ...state, pending: state.pending.slice(0, 1) });
      clock += 25 * HOUR;
      await expect(client.sell(sale(105))).rejects.toThrow(/offline for 25 h, its budget is 24 h/);
      expect(await client.offlinePending()).toHaveLength(1); // nothing was signed past the budget
    } finally {
      proxy.mode("up");
    }
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

async function eventually<T>(probe: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > until) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 200));
  }
}
