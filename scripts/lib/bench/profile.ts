/**
 * A V8 CPU profile of the product's isolate (the Worker and every StoreShard
 * share it in workerd) over the DevTools protocol that Miniflare's inspector
 * exposes, summarised as: self time by function, and inclusive time of the
 * product's entry points and of the steps inside StoreShard.issue.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire, SourceMap } from "node:module";
import type WebSocketType from "ws";

const WebSocket = createRequire(import.meta.url)("ws") as typeof WebSocketType;

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

export type ProfileSummary = {
  seconds: number;
  /** Share of the isolate thread's time, idle included. */
  idlePct: number;
  gcPct: number;
  /** Self time by where the code comes from (original source via the bundle's source map). */
  bySource: { source: string; pct: number }[];
  /** Self time by entry point (the outermost product function on the stack) and, inside it, by source. */
  byEntry: { entry: string; pct: number; top: { source: string; pct: number }[] }[];
  /** Self time of the hottest functions. */
  selfTop: { fn: string; pct: number }[];
  /** Inclusive share of chosen functions (each counted once per sample). */
  inclusive: Record<string, number>;
};

/** Functions whose inclusive time is reported. */
export const WATCH = [
  "parseReceipt",
  "checkReceipt",
  "canonicalHash",
  "jsonBody",
  "issue",
  "append",
  "buildRecord",
  "canonicalJson",
  "sha256Hex",
  "encodeCode",
  "transactionSync",
  "exec",
  "scheduleFlush",
  "flush",
  "markPersisted",
  "consumeReceipts",
  "insertReceipts",
  "verifyCode",
  "findReceipt",
  "lookup",
];

/** Outermost product functions that start a unit of work, innermost-first priority does not matter: the outermost wins. */
const ENTRIES: [string, string][] = [
  ["issue", "DO issue (StoreShard.issue)"],
  ["flush", "DO alarm: outbox flush"],
  ["alarm", "DO alarm: outbox flush"],
  ["markPersisted", "DO markPersisted"],
  ["lookup", "DO verify reads"],
  ["hashAt", "DO verify reads"],
  ["stats", "DO stats"],
  ["consumeReceipts", "queue consumer"],
  ["insertReceipts", "queue consumer"],
];

async function targetUrl(port: number, name: string): Promise<string> {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as {
    id?: string;
    title?: string;
    webSocketDebuggerUrl?: string;
  }[];
  const hit =
    list.find((t) => (t.id ?? "").endsWith(`:${name}`) || t.title === name) ??
    list.find((t) => (t.id ?? t.title ?? "").includes(name));
  if (!hit?.webSocketDebuggerUrl) {
    throw new Error(`no inspector target for ${name} (have: ${list.map((t) => t.id ?? t.title).join(", ")})`);
  }
  return hit.webSocketDebuggerUrl;
}

/** Starts a sampling profile; the returned function stops it and summarises. */
export async function startProfile(
  port: number,
  worker: string,
  sourceMapFile: string | null,
): Promise<() => Promise<ProfileSummary>> {
  const ws = new WebSocket(await targetUrl(port, worker));
  await new Promise<void>((ok, fail) => {
    ws.once("open", () => ok());
    ws.once("error", fail);
  });
  let id = 0;
  const pending = new Map<number, { ok: (r: unknown) => void; fail: (e: Error) => void }>();
  ws.on("message", (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    const p = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!p) return;
    if (msg.error) p.fail(new Error(msg.error.message));
    else p.ok(msg.result);
  });
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((ok, fail) => {
      const n = ++id;
      pending.set(n, { ok, fail });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 250 });
  await send("Profiler.start");
  return async () => {
    const result = (await send("Profiler.stop")) as { profile: Profile };
    await send("Profiler.disable").catch(() => {});
    ws.close();
    const map =
      sourceMapFile && existsSync(sourceMapFile)
        ? new SourceMap(JSON.parse(readFileSync(sourceMapFile, "utf8")))
        : null;
    return summarise(result.profile, map);
  };
}

/** Where a frame's code comes from: a product file, a package, or the runtime. */
function source(f: CallFrame, map: SourceMap | null): string {
  const fn = f.functionName;
  if (fn.startsWith("(")) return fn;
  if (!f.url) return `runtime: ${fn || "(native)"}`;
  if (f.url.startsWith("node-internal:") || f.url.startsWith("node:")) return "runtime: node compat (Buffer, crypto)";
  if (!map) return f.url.slice(f.url.lastIndexOf("/") + 1);
  const entry = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string };
  const orig = entry.originalSource ?? "";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(orig);
  if (pkg) return `pkg: ${pkg[1]}`;
  const own = /(core|db|workers|durable-objects|scripts)\/.*$/.exec(orig);
  if (own) return own[0];
  return orig ? orig.slice(orig.lastIndexOf("/") + 1) : "bundle";
}

function label(f: CallFrame): string {
  const fn = f.functionName || "(anonymous)";
  if (fn.startsWith("(")) return fn;
  const file = f.url ? f.url.slice(f.url.lastIndexOf("/") + 1) : "native";
  return `${fn} ${file}:${f.lineNumber + 1}`;
}

export function summarise(p: Profile, map: SourceMap | null): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const entryOf = new Map(ENTRIES);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const bySource = new Map<string, number>();
  const byEntry = new Map<string, Map<string, number>>();
  const sourceCache = new Map<number, string>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  p.samples.forEach((nodeId, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const node = byId.get(nodeId);
    if (!node) return;
    const name = node.callFrame.functionName;
    if (name === "(idle)") idle += dt;
    if (name === "(garbage collector)") gc += dt;
    self.set(label(node.callFrame), (self.get(label(node.callFrame)) ?? 0) + dt);
    let src = sourceCache.get(nodeId);
    if (src === undefined) {
      src = source(node.callFrame, map);
      sourceCache.set(nodeId, src);
    }
    bySource.set(src, (bySource.get(src) ?? 0) + dt);
    const seen = new Set<string>();
    let entry: string | null = null;
    let workerCode = false;
    for (let cur: number | undefined = nodeId; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      const fn = frame?.functionName ?? "";
      if (frame && !workerCode) {
        let fs = sourceCache.get(cur);
        if (fs === undefined) {
          fs = source(frame, map);
          sourceCache.set(cur, fs);
        }
        workerCode = /^(workers\/|core\/|db\/|pkg: (hono|zod|@hono))/.test(fs);
      }
      if (!fn || seen.has(fn)) continue;
      seen.add(fn);
      incl.set(fn, (incl.get(fn) ?? 0) + dt);
      const e = entryOf.get(fn);
      if (e) entry = e; // outermost wins: keep overwriting while walking up
    }
    entry ??=
      name === "(idle)"
        ? "(idle)"
        : name === "(garbage collector)"
          ? "(garbage collector)"
          : workerCode
            ? "Worker HTTP (hono, ingest/verify code)"
            : "runtime (RPC, HTTP, I/O; no product frame)";
    const m = byEntry.get(entry) ?? new Map<string, number>();
    m.set(src, (m.get(src) ?? 0) + dt);
    byEntry.set(entry, m);
  });
  const pct = (x: number) => (total ? Math.round((x / total) * 1000) / 10 : 0);
  const inclusive: Record<string, number> = {};
  for (const fn of WATCH) inclusive[fn] = pct(incl.get(fn) ?? 0);
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    seconds: Math.round((p.endTime - p.startTime) / 1e5) / 10,
    idlePct: pct(idle),
    gcPct: pct(gc),
    bySource: sorted(bySource)
      .slice(0, 20)
      .map(([s, t]) => ({ source: s, pct: pct(t) })),
    byEntry: sorted(new Map([...byEntry].map(([e, m]) => [e, [...m.values()].reduce((a, b) => a + b, 0)]))).map(
      ([e, t]) => ({
        entry: e,
        pct: pct(t),
        top: sorted(byEntry.get(e) ?? new Map())
          .slice(0, 6)
          .map(([s, x]) => ({ source: s, pct: pct(x) })),
      }),
    ),
    selfTop: sorted(self)
      .slice(0, 15)
      .map(([fn, t]) => ({ fn, pct: pct(t) })),
    inclusive,
  };
}
