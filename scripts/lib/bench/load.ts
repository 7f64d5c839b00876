/**
 * Load through autocannon's programmatic API, bounded in time and in count,
 * with a live line every second (rate, p50/p99 of that second, non-2xx so far)
 * and exact percentiles over every response (no coordinated-omission
 * back-filling: each latency is one real request).
 *
 * Rate-limited runs: autocannon's `overallRate` lets each connection send its
 * share back to back at the start of every second and then wait, so one
 * instance at "50 %" is really a burst at 100 % followed by idle time. To load
 * the server evenly, a paced run is split into lanes: up to 50 autocannon
 * instances, each with `overallRate` = rate / lanes, started 1000 / lanes ms
 * apart, so their per-second bursts interleave into a near-steady stream.
 */
import autocannon from "autocannon";

export type Req = { method: "GET" | "POST" | "PUT"; path: string; headers?: Record<string, string>; body?: string };

export type LoadOptions = {
  label: string;
  /** Origin, e.g. http://127.0.0.1:8787 */
  url: string;
  connections: number;
  durationSec: number;
  /** Total requests per second; unset = as fast as the connections go (saturation). */
  rate?: number;
  /** Hard cap on requests, whatever the duration. */
  maxRequests: number;
  /** Builds each request (called once per request, on the load generator's thread). */
  next: () => Req & { tag?: string };
  /** Called with each response body when set (costs the generator some CPU). */
  onBody?: (status: number, body: string, tag: string | undefined) => void;
  /** Prints a line per second. */
  live?: (line: string) => void;
  /** Appended to each live line. */
  liveExtra?: () => string;
};

export type Latency = { p50: number; p95: number; p99: number; max: number; mean: number };

export type LoadResult = {
  label: string;
  connections: number;
  targetRate: number | null;
  lanes: number;
  durationSec: number;
  requests: number;
  rps: number;
  latencyMs: Latency;
  status: Record<string, number>;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Per second: completed, p50, p99. */
  seconds: { t: number; n: number; p50: number; p99: number }[];
  startedAt: number;
  endedAt: number;
};

export function percentiles(values: number[] | Float64Array): Latency {
  const n = values.length;
  if (!n) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] as number;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[n - 1] as number, mean: sum / n };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const lanes = o.rate ? Math.max(1, Math.min(50, Math.floor(o.rate / 8))) : 1;
  const latencies = new Float64Array(Math.max(1, o.maxRequests + 1000));
  let count = 0;
  let errors = 0;
  let timeouts = 0;
  const status: Record<string, number> = {};
  let window: number[] = [];
  const seconds: LoadResult["seconds"] = [];
  const startedAt = Date.now();
  const instances: autocannon.Instance[] = [];
  let stopped = false;
  const stopAll = () => {
    if (stopped) return;
    stopped = true;
    for (const i of instances) i.stop();
  };

  const request: autocannon.Request = {
    setupRequest: (req: autocannon.Request, context: object) => {
      const r = o.next();
      (context as { tag?: string }).tag = r.tag;
      return { ...req, method: r.method, path: r.path, headers: r.headers ?? {}, body: r.body ?? "" };
    },
  };
  if (o.onBody) {
    const onBody = o.onBody;
    request.onResponse = (s: number, body: string, context: object) =>
      onBody(s, body, (context as { tag?: string }).tag);
  }

  let lastResponseAt = startedAt;
  // Autocannon notices its end only at its next 1 s tick and keeps sending until then:
  // responses after the window are not counted.
  const windowEnd = startedAt + o.durationSec * 1000;
  const onResponse = (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
    const now = Date.now();
    if (now > windowEnd) return stopAll();
    lastResponseAt = now;
    if (count < latencies.length) latencies[count] = ms;
    count++;
    window.push(ms);
    status[statusCode] = (status[statusCode] ?? 0) + 1;
    if (count >= o.maxRequests) stopAll();
  };

  const tick = setInterval(() => {
    const p = percentiles(window);
    const t = Math.round((Date.now() - startedAt) / 1000);
    seconds.push({ t, n: window.length, p50: round(p.p50), p99: round(p.p99) });
    window = [];
    const non2xx = Object.entries(status).reduce((s, [k, v]) => (k.startsWith("2") ? s : s + v), 0);
    o.live?.(
      `  ${o.label.padEnd(26)} t=${String(t).padStart(3)}s  ${String(seconds.at(-1)?.n ?? 0).padStart(6)} req/s  p50 ${p.p50.toFixed(1).padStart(6)} ms  p99 ${p.p99.toFixed(1).padStart(6)} ms  non-2xx ${non2xx}${errors ? `  errors ${errors}` : ""}${o.liveExtra?.() ?? ""}`,
    );
  }, 1000);
  const hardStop = setTimeout(stopAll, (o.durationSec + 5) * 1000);

  const laneRates = o.rate
    ? Array.from(
        { length: lanes },
        (_, i) => Math.floor((o.rate as number) / lanes) + (i < (o.rate as number) % lanes ? 1 : 0),
      )
    : [0];
  const runs = laneRates.map(
    (laneRate, i) =>
      new Promise<void>((done) => {
        const start = () => {
          if (stopped) return done();
          const connections = o.rate
            ? Math.max(1, Math.min(laneRate, Math.ceil(o.connections / lanes)))
            : o.connections;
          const inst = autocannon(
            {
              url: o.url,
              connections,
              duration: o.durationSec - (i * 1) / lanes,
              ...(o.rate ? { overallRate: laneRate, ignoreCoordinatedOmission: true } : {}),
              requests: [request],
              timeout: 10,
            },
            () => done(),
          );
          inst.on("response", onResponse as unknown as () => void);
          inst.on("reqError", (e: { message?: string }) => {
            errors++;
            if (/timed out/.test(e?.message ?? "")) timeouts++;
          });
          instances.push(inst);
        };
        if (i === 0) start();
        else setTimeout(start, (i * 1000) / lanes);
      }),
  );
  await Promise.all(runs);
  clearInterval(tick);
  clearTimeout(hardStop);
  const endedAt = Date.now();
  const durationSec = Math.max(0.001, (Math.min(endedAt, lastResponseAt, windowEnd) - startedAt) / 1000);
  const n = Math.min(count, latencies.length);
  const lat = percentiles(latencies.subarray(0, n));
  const non2xx = Object.entries(status).reduce((s, [k, v]) => (k.startsWith("2") ? s : s + v), 0);
  return {
    label: o.label,
    connections: o.connections,
    targetRate: o.rate ?? null,
    lanes,
    durationSec: round(durationSec),
    requests: count,
    rps: round(count / durationSec, 1),
    latencyMs: {
      p50: round(lat.p50),
      p95: round(lat.p95),
      p99: round(lat.p99),
      max: round(lat.max),
      mean: round(lat.mean),
    },
    status,
    non2xx,
    errors,
    timeouts,
    seconds,
    startedAt,
    endedAt,
  };
}
