/**
 * Refunds next to sales (contract v1.2), at light load (2 connections, closed
 * loop): sales first, then a refund of each (one unit of one line, from a
 * terminal of another store of the tenant, so mostly on another shard, the
 * saga's costly case). Latency of both in the same run, and the rows a
 * refund writes across all shards (its ring share, the ledger's reserve and
 * confirm, the saga row written and deleted).
 */
import { refundBody } from "../../returns.ts";
import type { Fleet, Terminal } from "../fleet.ts";
import type { Req } from "../load.ts";
import { type BenchRun, type Phase, rowsPerReceipt, tallyDelta } from "../run.ts";

export type RefundsResult = { sales: Phase; refunds: Phase; refunded: number; rowsPerRefund: number | null };

export async function refunds(b: BenchRun, fleet: Fleet): Promise<RefundsResult> {
  const sold: { code: string; body: string; t: Terminal }[] = [];
  const asked = new Map<string, { body: string; t: Terminal }>();
  let i = 0;
  b.say("sales, light load (2 connections): POST /v1/receipts");
  const sales = await b.phase({
    label: "sale, 2 connections",
    url: b.base,
    connections: 2,
    durationSec: Math.max(3, Math.round(b.o.phaseSec / 2)),
    maxRequests: 20_000,
    next: (): Req & { tag: string } => {
      const t = fleet.terminals[i++ % fleet.terminals.length] as Terminal;
      const key = b.nextKey();
      const body = b.sales.body(i, Date.now());
      asked.set(key, { body, t });
      return {
        method: "POST",
        path: "/v1/receipts",
        headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json", "idempotency-key": key },
        body,
        tag: key,
      };
    },
    onBody: (status, body, tag) => {
      const s = tag ? asked.get(tag) : undefined;
      if (status === 201 && s) sold.push({ ...s, code: (JSON.parse(body) as { code: string }).code });
    },
  });
  await b.drain();
  const before = await b.tally(fleet.shards);
  let j = 0;
  b.say(`refunds of those ${sold.length} sales, light load (2 connections), each at another store of its tenant`);
  const refunded = await b.phase({
    label: "refund, 2 connections",
    url: b.base,
    connections: 2,
    durationSec: Math.max(3, Math.round(b.o.phaseSec / 2)),
    maxRequests: sold.length,
    next: (): Req => {
      const s = sold[j++ % sold.length] as (typeof sold)[number];
      const others = fleet.terminals.filter((t) => t.tenantId === s.t.tenantId && t.storeId !== s.t.storeId);
      const from = others[j % Math.max(1, others.length)] ?? s.t;
      return {
        method: "POST",
        path: "/v1/receipts",
        headers: {
          authorization: `Bearer ${from.token}`,
          "content-type": "application/json",
          "idempotency-key": b.nextKey(),
        },
        body: JSON.stringify(refundBody(s.body, s.code, 0, true)),
      };
    },
  });
  const after = await b.tally(fleet.shards);
  await b.drain();
  const n = refunded.load.status["201"] ?? 0;
  const delta = tallyDelta(before, after);
  return { sales, refunds: refunded, refunded: n, rowsPerRefund: delta ? rowsPerReceipt(delta, n).total : null };
}
