/**
 * The terminal client (clients/terminal/) against a real local stack through a
 * TCP proxy: online sales, a sale whose replies are lost, an outage during
 * which sales queue in a file, a restart of the client, then the flush. Every
 * sale lands in Postgres exactly once, in the order it was made.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileQueue, type SaleInput, TerminalClient } from "../../clients/terminal/index.ts";
import { callStack, type Stack, stackTerminal, startStack } from "../../scripts/lib/stack/local.ts";
import { startTcpProxy, type TcpProxy } from "../../scripts/lib/stack/tcp-proxy.ts";

let stack: Stack;
let proxy: TcpProxy;
let token = "";
const tenantId = `client-${Date.now().toString(36)}`;
const queueFile = join(mkdtempSync(join(tmpdir(), "tillproof-client-")), "queue.json");

/** Sale number n: its total is 1000 + n, so each sale can be found in Postgres. */
const sale = (n: number): SaleInput => ({
  issuedAt: new Date().toISOString(),
  currency: "EUR",
  items: [{ name: `Sale ${n}`, quantity: 1, unitPrice: 1000 + n, total: 1000 + n }],
  total: 1000 + n,
  payments: [{ method: "card", amount: 1000 + n }],
});

const client = () =>
  new TerminalClient({
    baseUrl: proxy.url,
    token,
    queue: new FileQueue(queueFile),
    attempts: 3,
    backoffMs: 50,
    maxBackoffMs: 200,
    timeoutMs: 5_000,
  });

beforeAll(async () => {
  stack = await startStack();
  token = await stackTerminal(stack, tenantId, "Client test");
  const target = new URL(stack.baseUrl);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
});

describe("the terminal client through an outage", () => {
  it("loses and doubles no sale: online, lost replies, offline with a restart, then the flush", async () => {
    const first = client();
    for (const n of [1, 2, 3]) {
      const r = await first.issueOrQueue(sale(n));
      expect("receipt" in r).toBe(true);
    }
    // The sale reaches the gateway but every reply is lost: the client queues it with its key.
    proxy.mode("dropReplies");
    const lost = await first.issueOrQueue(sale(4));
    expect("queued" in lost).toBe(true);
    // Down: sales queue in the file, in order.
    proxy.mode("down");
    for (const n of [5, 6, 7, 8, 9]) expect("queued" in (await first.issueOrQueue(sale(n)))).toBe(true);
    // A sale the gateway refuses is not queued: it throws a typed error.
    proxy.mode("up");
    await expect(first.issueOrQueue({ ...sale(10), total: 1 })).rejects.toMatchObject({
      name: "RejectedError",
      status: 400,
      code: "validation_failed",
    });
    // The terminal restarts: a new client finds the queue in its file and flushes it in order.
    const second = client();
    expect((await second.pending()).map((q) => q.sale.total)).toEqual([1004, 1005, 1006, 1007, 1008, 1009]);
    const flushed = await second.flush();
    expect([flushed.sent.length, flushed.rejected.length, flushed.left]).toEqual([6, 0, 0]);
    expect(await second.pending()).toEqual([]);

    // Postgres: each sale exactly once, and the store's chain in the order they were made.
    let rows: { total: string; seq: string }[] = [];
    for (let i = 0; i < 100; i++) {
      rows = await stack.sql<{ total: string; seq: string }>(
        "SELECT total, seq FROM receipts WHERE tenant_id = $1 ORDER BY seq",
        [tenantId],
      );
      if (rows.length >= 9) break;
      await new Promise((ok) => setTimeout(ok, 200));
    }
    expect(rows.map((r) => Number(r.total))).toEqual([1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009]);
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }, 120_000);

  it("gives money back and cancels a sale with the same retries: refund() through lost replies, void(), and a 409 typed", async () => {
    const till = client();
    const bought = await till.issueReceipt({
      ...sale(50),
      items: [{ name: "Mug", sku: "M1", quantity: 2, unitPrice: 750, total: 1500 }],
      total: 1500,
      payments: [{ method: "cash", amount: 1500 }],
    });
    const back = {
      issuedAt: new Date().toISOString(),
      currency: "EUR",
      refersTo: bought.code,
      items: [{ name: "Mug", sku: "M1", quantity: 1, unitPrice: 750, total: 750 }],
      total: 750,
      payments: [{ method: "cash" as const, amount: 750 }],
    };
    // Every reply is lost; later the same key replays, and the refund counts once.
    proxy.mode("dropReplies");
    await expect(till.refund(back, "refund-mug-1")).rejects.toMatchObject({ name: "UnavailableError" });
    proxy.mode("up");
    const refund = await till.refund(back, "refund-mug-1");
    expect(refund).toMatchObject({ kind: "refund", refersTo: bought.code });
    await expect(
      till.refund({
        ...back,
        items: [{ name: "Mug", sku: "M1", quantity: 2, unitPrice: 750, total: 1500 }],
        total: 1500,
        payments: [{ method: "cash", amount: 1500 }],
      }),
    ).rejects.toMatchObject({
      name: "RejectedError",
      status: 409,
      code: "refund_exceeds_original",
    });
    const mistake = await till.issueReceipt(sale(51));
    const voided = await till.void({ ...sale(51), code: mistake.code });
    expect(voided).toMatchObject({ kind: "void", refersTo: mistake.code });
    const v = await callStack(stack, "GET", `/v1/verify/${bought.code}`, "");
    expect(v.body).toMatchObject({ refundedTotal: 750 });
  }, 60_000);
});
