/**
 * Receipts over the terminal channel (a WebSocket per terminal to its shard):
 * light load in a closed loop (2 sockets, each sending its next sale when the
 * last is answered: the same shape as "sale, 2 connections" over HTTP), and
 * paced at production's per-shard rates (PLAN), open loop over one socket per
 * terminal. Latency is from send to answer, every message counted.
 */
import { startCpu } from "../cpu.ts";
import type { Fleet, Terminal } from "../fleet.ts";
import { type LoadResult, percentiles } from "../load.ts";
import type { BenchRun, Phase } from "../run.ts";
import { measureAtRate, PLAN, type RateResult } from "./production-rates.ts";

type Socket = { ws: WebSocket; waiting: Map<string, (status: number) => void> };

async function open(base: string, t: Terminal): Promise<Socket> {
  const url = `${base.replace(/^http/, "ws")}/v1/terminals/channel`;
  // Node's WebSocket takes headers (the DOM's type does not say so).
  const Ctor = WebSocket as unknown as new (u: string, i: { headers: Record<string, string> }) => WebSocket;
  const ws = new Ctor(url, { headers: { authorization: `Bearer ${t.token}` } });
  const waiting = new Map<string, (status: number) => void>();
  ws.addEventListener("message", (e) => {
    const a = JSON.parse(String(e.data)) as { id: string; status: number };
    waiting.get(a.id)?.(a.status);
    waiting.delete(a.id);
  });
  await new Promise<void>((ok, fail) => {
    ws.addEventListener("open", () => ok(), { once: true });
    ws.addEventListener("error", () => fail(new Error(`channel for ${t.terminalId}: no socket`)), { once: true });
  });
  return { ws, waiting };
}

/** Drives sockets for `sec` seconds; `paced`: total messages a second (open loop), else closed loop. */
async function drive(
  b: BenchRun,
  label: string,
  terminals: Terminal[],
  sec: number,
  rate: number | null,
): Promise<Phase> {
  const sockets = await Promise.all(terminals.map((t) => open(b.base, t)));
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let n = 0;
  const send = (s: Socket) =>
    new Promise<void>((done) => {
      const id = String(++n);
      const t0 = performance.now();
      s.waiting.set(id, (st) => {
        latencies.push(performance.now() - t0);
        status[st] = (status[st] ?? 0) + 1;
        done();
      });
      const key = b.nextKey();
      const body = b.sales.body(n, Date.now() - Math.floor(b.r() * 3000));
      s.ws.send(`{"id":"${id}","type":"receipt","idempotencyKey":"${key}","receipt":${body}}`);
    });
  const stop = startCpu(b.o.cpuPids);
  const startedAt = Date.now();
  const until = startedAt + sec * 1000;
  if (rate === null) {
    await Promise.all(
      sockets.map(async (s) => {
        while (Date.now() < until) await send(s);
      }),
    );
  } else {
    const pending: Promise<void>[] = [];
    let sent = 0;
    let i = 0;
    while (Date.now() < until) {
      const due = Math.floor(((Date.now() - startedAt) / 1000) * rate);
      for (; sent < due; sent++) pending.push(send(sockets[i++ % sockets.length] as Socket));
      await new Promise((ok) => setTimeout(ok, 1));
    }
    await Promise.all(pending);
  }
  const endedAt = Date.now();
  for (const s of sockets) s.ws.close(1000, "bench done");
  const lat = percentiles(latencies);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const durationSec = (endedAt - startedAt) / 1000;
  const load: LoadResult = {
    label,
    connections: sockets.length,
    targetRate: rate,
    lanes: 1,
    durationSec,
    requests: latencies.length,
    rps: Math.round((latencies.length / durationSec) * 10) / 10,
    latencyMs: { p50: r2(lat.p50), p95: r2(lat.p95), p99: r2(lat.p99), max: r2(lat.max), mean: r2(lat.mean) },
    status,
    non2xx: latencies.length - (status["201"] ?? 0) - (status["200"] ?? 0),
    errors: 0,
    timeouts: 0,
    seconds: [],
    startedAt,
    endedAt,
  };
  b.count201(load);
  return { load, cpu: stop() };
}

export type ChannelResult = { light: Phase; sustained: RateResult; peak: RateResult };

function atRate(b: BenchRun, fleet: Fleet, label: string, perShard: number, count: number): Promise<RateResult> {
  const shards = [...new Set(fleet.terminals.map((t) => t.shard))].slice(-count);
  const terminals = fleet.terminals.filter((t) => shards.includes(t.shard));
  b.say(
    `${label}: ${Math.round(perShard * 10) / 10}/s on each of ${shards.length} shards over ${terminals.length} sockets`,
  );
  return measureAtRate(b, { label, perShard, shards, run: (rate) => drive(b, label, terminals, b.o.phaseSec, rate) });
}

export async function channel(b: BenchRun, fleet: Fleet): Promise<ChannelResult> {
  b.say("sales over the terminal channel, light load (2 sockets, closed loop)");
  const two = [...new Map(fleet.terminals.map((t) => [t.shard, t])).values()].slice(0, 2);
  const light = await drive(b, "sale, 2 sockets", two, Math.max(3, Math.round(b.o.phaseSec / 2)), null);
  await b.drain();
  const sustained = await atRate(b, fleet, "channel @15k/s-equivalent", PLAN.sustained / PLAN.shards, 4);
  const peak = await atRate(b, fleet, "channel @70k/s-equivalent", PLAN.peak / PLAN.shards, 2);
  return { light, sustained, peak };
}
