/**
 * `node scripts/test-upgrade.ts [--keep] [commit…]`: the upgrade test.
 *
 * Why: a deploy keeps two kinds of state, Postgres's rows and each shard's own
 * storage (Durable Object SQLite: chain heads, idempotency keys, the receipts
 * Postgres does not have yet). The unit and e2e tests start from empty shards;
 * a change to how a shard keeps its state must instead take over what the
 * release before it left, or codes already printed on receipts stop verifying
 * and terminals stop issuing. This starts the working tree on a real release's
 * data.
 *
 * For each release in upgrade-releases.json (or each commit named): that
 * release's `npm run dev` (a git worktree, its own `npm ci`) issues receipts on
 * two shards, waits until Postgres has them, issues two more per terminal and is
 * stopped at once, so those may still be only in their shards. Then this working
 * tree's `npm run dev`, uncommitted changes included, starts on the same data
 * (TILLPROOF_DATA_DIR), ports and secrets, and checks that:
 *   - every shard answers GET /v1/ops/pipeline (none "unreachable");
 *   - every old code verifies (200, "valid", the same seq and hash) and reaches Postgres;
 *   - each old terminal token issues the next receipt of its store's chain;
 *   - each old Idempotency-Key, with its body, replays the same receipt (200);
 *   - the old tenant key still works, and `npm run audit` passes.
 * A release's `settings` are passed to the new phase (e.g. LEGACY_CREDENTIALS=on),
 * each with a warning: an operator upgrading from it must set them too.
 *
 * Prints a line per release and "N passed, N failed"; exits 1 if any failed.
 * Everything it starts is stopped and its worktrees and /var/tmp folder removed,
 * also on failure or Ctrl-C (--keep leaves the folder, with the dev logs).
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseCode } from "../core/code.ts";
import { configSchema } from "../core/config.ts";
import { shardForStore } from "../core/ids.ts";
import { apiCall } from "./lib/api.ts";
import type { Demo } from "./lib/demo.ts";
import { assertPortFree, freePorts } from "./lib/stack/ports.ts";

type Release = { commit: string; date?: string; note?: string; settings?: Record<string, string> };
type Ports = { http: number; pg: number; tunnel: number; witness: number };
type Receipt = { code: string; seq: number; hash: string; prevHash: string };
type Sale = ReturnType<typeof sale>;
/** A receipt the old release issued, with what its terminal sent. */
type Issued = { storeId: string; token: string; key: string; body: Sale; receipt: Receipt };
type OldRun = { demo: Demo; issued: Issued[]; secs: number };
type Check = { name: string; ok: boolean; detail: string };

const ROOT = resolve(import.meta.dirname, "..");
const RELEASES = resolve(import.meta.dirname, "upgrade-releases.json");
/** Reachable by other users: as root, embedded Postgres runs as `postgres` and must reach the data. */
const TMP = `/var/tmp/tillproof-upgrade-${process.pid}`;
const OPERATOR_TOKEN = "upgrade-test-operator-token";
const CODE_KEY = "upgrade-test-code-key-not-for-production";
const RECEIPTS_BEFORE = 5; // per terminal, persisted before the stop
const RECEIPTS_AT_STOP = 2; // per terminal, issued just before the stop
const UP_LINE = "Tillproof is up";

const say = (line: string) => console.log(`[upgrade] ${line}`);
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
/** A timeout to race against that does not keep this script alive once the race is won. */
const deadline = (ms: number) => new Promise((ok) => setTimeout(ok, ms).unref());
const secondsSince = (t: number) => Math.round((Date.now() - t) / 1000);

// ---------------------------------------------------------------- processes

/** Runs a command to completion; fails with its last lines if it exits non-zero. */
function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const keep = (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-20_000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", fail);
    child.on("close", (code) =>
      code === 0 ? ok(out) : fail(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${tail(out, 15)}`)),
    );
  });
}

const tail = (text: string, lines: number) => text.trimEnd().split("\n").slice(-lines).join("\n");

type Proc = { pid: number; start: string };

/** A process and all its descendants, from /proc (each with its start time, so a reused pid is not mistaken for it). */
function processTree(root: number): Proc[] {
  const children = new Map<number, number[]>();
  const start = new Map<number, string>();
  for (const name of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    const stat = readStat(Number(name));
    if (!stat) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(name)]);
    start.set(Number(name), stat.start);
  }
  const found: Proc[] = [];
  const visit = (pid: number) => {
    const s = start.get(pid);
    if (s === undefined) return;
    found.push({ pid, start: s });
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return found;
}

function readStat(pid: number): { ppid: number; start: string; state: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // field 3 (state) onwards
    return { state: fields[0] ?? "", ppid: Number(fields[1]), start: fields[19] ?? "" };
  } catch {
    return null;
  }
}

const isAlive = (p: Proc) => {
  const s = readStat(p.pid);
  return s !== null && s.start === p.start && s.state !== "Z";
};

/** A running `npm run dev` (scripts/dev.ts), its output going to `log`. */
type Dev = { child: ChildProcess; log: string; exited: Promise<void>; output: () => string };
const running = new Set<Dev>();

/** Starts scripts/dev.ts of `cwd` with its own Node and waits for its "Tillproof is up" and /healthz. */
async function startDev(cwd: string, env: NodeJS.ProcessEnv, log: string, base: string): Promise<Dev> {
  const bin = resolve(cwd, "node_modules/.bin");
  const child = spawn(resolve(bin, "node"), ["scripts/dev.ts"], {
    cwd,
    env: { ...env, PATH: `${bin}:${env.PATH ?? ""}` }, // as `npm run dev` has it: wrangler's `env node` is this Node

    detached: true, // its own group: a Ctrl-C here is handled by stopping it properly
    stdio: ["ignore", "pipe", "pipe"],
  });
  const file = createWriteStream(log);
  let output = "";
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on("data", (chunk: Buffer) => {
      file.write(chunk);
      output = (output + chunk.toString()).slice(-50_000);
    });
  }
  const exited = new Promise<void>((ok) => child.on("exit", () => ok()));
  const dev: Dev = { child, log, exited, output: () => output };
  running.add(dev);
  const until = Date.now() + 180_000;
  while (!(output.includes(UP_LINE) && (await healthy(base)))) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`dev exited (${child.exitCode ?? child.signalCode}) before it was up:\n${tail(output, 20)}`);
    if (Date.now() > until) throw new Error(`dev was not up within 180 s:\n${tail(output, 20)}`);
    await sleep(500);
  }
  return dev;
}

const healthy = (base: string) =>
  fetch(`${base}/healthz`).then(
    (r) => r.ok,
    () => false,
  );

/**
 * SIGTERM to the dev process only: it stops wrangler (its own process group),
 * the tunnel and Postgres itself. Whatever of it is left after that is killed.
 */
async function stopDev(dev: Dev): Promise<void> {
  const pid = dev.child.pid;
  if (!pid) return;
  const family = processTree(pid);
  if (dev.child.exitCode === null && dev.child.signalCode === null) {
    process.kill(pid, "SIGTERM");
    const stopped = await Promise.race([dev.exited.then(() => true), deadline(60_000).then(() => false)]);
    if (!stopped) {
      say(`dev (pid ${pid}) did not stop within 60 s; killing it`);
      process.kill(-pid, "SIGKILL");
      await dev.exited;
    }
  }
  const until = Date.now() + 15_000;
  while (family.some(isAlive) && Date.now() < until) await sleep(250);
  for (const p of family.filter(isAlive)) {
    say(`killing ${p.pid}, left behind by dev`);
    process.kill(p.pid, "SIGKILL");
  }
  running.delete(dev);
}

/** Waits (up to 15 s) until the stack's ports can be bound again. */
async function waitPortsFree(ports: Ports): Promise<void> {
  const until = Date.now() + 15_000;
  for (const [name, port] of Object.entries(ports)) {
    for (;;) {
      try {
        await assertPortFree(port, name);
        break;
      } catch (e) {
        if (Date.now() > until) throw new Error(`after the stop, ${(e as Error).message}`);
        await sleep(250);
      }
    }
  }
}

// ---------------------------------------------------------------- the stacks

/** The environment both phases share: the same ports and secrets, nothing of the caller's own setup. */
function stackEnv(ports: Ports): NodeJS.ProcessEnv {
  const env = { ...process.env };
  const own = ["DATABASE_URL", "MIGRATION_DATABASE_URL", "LOG_SIGNING_KEY", "TILLPROOF_DATA_DIR", "WRANGLER_LOG"];
  for (const k of [...Object.keys(configSchema.shape), ...own]) delete env[k];
  return {
    ...env,
    PORT: String(ports.http),
    TILLPROOF_PG_PORT: String(ports.pg),
    TILLPROOF_TUNNEL_PORT: String(ports.tunnel),
    // Releases from v1.2 on start a witness of their own.
    WITNESS_PORT: String(ports.witness),
    OPERATOR_TOKEN,
    CODE_KEY,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    // The edge cache is kept with the data (wrangler --persist-to): left on, the new code's
    // verify would answer from the old release's cached responses for their 30 s.
    VERIFY_EDGE_CACHE: "off",
  };
}

/** A worktree of `commit`, with its own `npm ci`. */
async function checkoutRelease(commit: string, dir: string): Promise<void> {
  await run("git", ["worktree", "add", "--detach", dir, commit], { cwd: ROOT });
  chmodSync(dir, 0o755);
  await run("npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir });
}

async function removeWorktree(dir: string): Promise<void> {
  await run("git", ["worktree", "remove", "--force", dir], { cwd: ROOT }).catch((e: Error) =>
    say(`git worktree remove failed, removing the folder: ${e.message.split("\n")[0]}`),
  );
  rmSync(dir, { recursive: true, force: true });
  await run("git", ["worktree", "prune"], { cwd: ROOT }).catch(() => {});
}

// ---------------------------------------------------------------- the API

function sale(n: number) {
  const price = 250 + n;
  return {
    issuedAt: new Date().toISOString(),
    currency: "EUR",
    items: [{ name: `Upgrade test ${n}`, quantity: 1, unitPrice: price, taxRate: 7, total: price }],
    total: price,
    payments: [{ method: "card", amount: price }],
  };
}

/** POST /v1/receipts as a terminal does: 503 and 429 are waited out (up to 60 s) with the same key. */
async function postReceipt(base: string, token: string, key: string, body: Sale) {
  const until = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`${base}/v1/receipts`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(body),
    });
    const json = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (![429, 503].includes(res.status) || Date.now() > until) return { status: res.status, body: json };
    await sleep(500);
  }
}

/** GET /v1/verify/{code}, waiting out 503 (a shard or Postgres starting) and 429 for up to `waitMs`. */
async function verifyCode(base: string, code: string, waitMs = 60_000) {
  const until = Date.now() + waitMs;
  for (;;) {
    const res = await fetch(`${base}/v1/verify/${code}`);
    const json = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (![429, 503].includes(res.status) || Date.now() > until) return { status: res.status, body: json };
    await sleep(500);
  }
}

const asReceipt = (b: Record<string, unknown> | null): Receipt => ({
  code: String(b?.code),
  seq: Number(b?.seq),
  hash: String(b?.hash),
  prevHash: String(b?.prevHash),
});

/** Waits until every code answers persisted: true; returns those that still do not. */
async function waitPersisted(base: string, codes: string[], waitMs: number): Promise<string[]> {
  const until = Date.now() + waitMs;
  let pending = codes;
  while (pending.length && Date.now() < until) {
    const answers = await Promise.all(pending.map((c) => verifyCode(base, c)));
    pending = pending.filter((_, i) => answers[i]?.body?.persisted !== true);
    if (pending.length) await sleep(500);
  }
  return pending;
}

const pipeline = (base: string) => apiCall(base, "GET", "/v1/ops/pipeline", OPERATOR_TOKEN);

// ---------------------------------------------------------------- old phase

/** Two stores of the demo tenant, on two different shards, each with a terminal. */
async function makeTerminals(base: string, demo: Demo): Promise<{ storeId: string; token: string }[]> {
  const first = "upgrade-a";
  // Different modulo 256 is different modulo any multiple of it (1024 before 256 was the default).
  const second = ["upgrade-b", "upgrade-c", "upgrade-d", "upgrade-e"].find(
    (id) => shardForStore(demo.tenantId, id, 256) !== shardForStore(demo.tenantId, first, 256),
  );
  const terminals = [];
  for (const storeId of [first, second ?? "upgrade-b"]) {
    const path = `/v1/tenants/${demo.tenantId}/stores/${storeId}`;
    const store = await apiCall(base, "PUT", path, demo.tenantKey, { name: storeId, timezone: "Europe/Berlin" });
    if (store.status !== 201) throw new Error(`PUT ${path}: ${store.status} ${JSON.stringify(store.body)}`);
    const t = await apiCall(base, "POST", `${path}/terminals`, demo.tenantKey, { id: "till-1" });
    if (t.status !== 201) throw new Error(`POST ${path}/terminals: ${t.status} ${JSON.stringify(t.body)}`);
    terminals.push({ storeId, token: String(t.body?.token) });
  }
  return terminals;
}

async function issueSome(base: string, terminal: { storeId: string; token: string }, n: number, from: number) {
  const issued: Issued[] = [];
  for (let i = from; i < from + n; i++) {
    const key = `upgrade-${terminal.storeId}-${i}`;
    const body = sale(i);
    const res = await postReceipt(base, terminal.token, key, body);
    if (res.status !== 201) throw new Error(`issuing ${key}: ${res.status} ${JSON.stringify(res.body)}`);
    issued.push({ ...terminal, key, body, receipt: asReceipt(res.body) });
  }
  return issued;
}

/** The old release: receipts on two shards, most persisted, the last ones issued just before it stops. */
async function oldPhase(rel: Release, dir: string, data: string, ports: Ports, base: string): Promise<OldRun> {
  const started = Date.now();
  say(`${rel.commit}: starting the old release's dev`);
  const dev = await startDev(dir, stackEnv(ports), resolve(TMP, `dev-${rel.commit}-old.log`), base);
  let demo: Demo;
  const issued: Issued[] = [];
  try {
    demo = JSON.parse(readFileSync(resolve(data, "demo.json"), "utf8")) as Demo;
    // The new phase's dev replaces demo.json if it refuses the old key: keep the old one.
    writeFileSync(resolve(TMP, `demo-${rel.commit}-old.json`), JSON.stringify(demo, null, 2));
    const terminals = await makeTerminals(base, demo);
    for (const t of terminals) issued.push(...(await issueSome(base, t, RECEIPTS_BEFORE, 0)));
    const shards = new Set(issued.map((i) => parseCode(CODE_KEY, i.receipt.code)?.shard));
    if (shards.size < 2) throw new Error(`the receipts landed on ${shards.size} shard(s), not 2`);
    const late = await waitPersisted(
      base,
      issued.map((i) => i.receipt.code),
      90_000,
    );
    if (late.length) throw new Error(`not persisted within 90 s: ${late.join(", ")}`);
    for (const t of terminals) issued.push(...(await issueSome(base, t, RECEIPTS_AT_STOP, RECEIPTS_BEFORE)));
  } finally {
    await stopDev(dev);
  }
  await waitPortsFree(ports);
  const shards = [...new Set(issued.map((i) => parseCode(CODE_KEY, i.receipt.code)?.shard))].join(", ");
  say(`${rel.commit}: ${issued.length} receipts issued on shards ${shards}; stopped (${secondsSince(started)} s)`);
  return { demo, issued, secs: secondsSince(started) };
}

// ---------------------------------------------------------------- new phase

async function check(checks: Check[], name: string, fn: () => Promise<string | undefined>): Promise<void> {
  try {
    const detail = (await fn()) ?? "";
    checks.push({ name, ok: true, detail });
    say(`  ok    ${name}${detail ? ` (${detail})` : ""}`);
  } catch (e) {
    checks.push({ name, ok: false, detail: (e as Error).message });
    say(`  FAIL  ${name}: ${(e as Error).message}`);
  }
}

/** Throws naming the first few problems, if there are any. */
function noProblems(problems: string[], of: number): void {
  if (problems.length)
    throw new Error(
      `${problems.length} of ${of}: ${problems.slice(0, 3).join("; ")}${problems.length > 3 ? "; …" : ""}`,
    );
}

/** The working tree on the old release's data, and the checks. */
async function newPhase(rel: Release, data: string, ports: Ports, base: string, old: OldRun): Promise<Check[]> {
  for (const [k, v] of Object.entries(rel.settings ?? {}))
    say(`WARNING ${rel.commit}: the new code runs with ${k}=${v}; operators upgrading from it must set it too`);
  say(`${rel.commit}: starting the working tree's dev on its data`);
  const env = { ...stackEnv(ports), ...rel.settings, TILLPROOF_DATA_DIR: data };
  const dev = await startDev(ROOT, env, resolve(TMP, `dev-${rel.commit}-new.log`), base);
  const checks: Check[] = [];
  const codes = old.issued.map((i) => i.receipt.code);
  try {
    await check(checks, "every shard answers /v1/ops/pipeline", async () => {
      const until = Date.now() + 30_000;
      for (;;) {
        const res = await pipeline(base);
        const shards = (res.body?.shards ?? []) as { shard: number; error?: string }[];
        const failed = shards.filter((s) => s.error).map((s) => `shard ${s.shard} ${s.error}`);
        if (res.status === 200 && !failed.length) return `${shards.length} shards`;
        if (Date.now() > until) throw new Error(failed.join(", ") || `${res.status} ${JSON.stringify(res.body)}`);
        await sleep(1000);
      }
    });
    let unpersisted = 0;
    await check(checks, "old codes verify (200, valid, same seq and hash)", async () => {
      const problems: string[] = [];
      for (const { receipt } of old.issued) {
        const res = await verifyCode(base, receipt.code);
        const b = res.body;
        if (res.status !== 200) problems.push(`${receipt.code} → ${res.status} ${JSON.stringify(b?.error ?? b)}`);
        else if (b?.status !== "valid") problems.push(`${receipt.code} is ${b?.status}`);
        else if (b.seq !== receipt.seq || b.hash !== receipt.hash) problems.push(`${receipt.code} changed`);
        else if (b.persisted !== true) unpersisted++;
      }
      noProblems(problems, codes.length);
      return `${codes.length}; ${unpersisted} still only in their shards at the upgrade`;
    });
    await check(checks, "old receipts reach Postgres (persisted: true)", async () => {
      const late = await waitPersisted(base, codes, 60_000);
      noProblems(
        late.map((c) => `${c} not persisted after 60 s`),
        codes.length,
      );
      return undefined;
    });
    await check(checks, "old terminals continue their chains (201, seq + 1, prevHash)", async () => {
      const problems: string[] = [];
      for (const storeId of new Set(old.issued.map((i) => i.storeId))) {
        const last = old.issued.filter((i) => i.storeId === storeId).at(-1) as Issued;
        const res = await postReceipt(base, last.token, `upgrade-${storeId}-after`, sale(100));
        const r = asReceipt(res.body);
        if (res.status !== 201) problems.push(`${storeId}: ${res.status} ${JSON.stringify(res.body)}`);
        else if (r.seq !== last.receipt.seq + 1) problems.push(`${storeId}: seq ${r.seq} after ${last.receipt.seq}`);
        else if (r.prevHash !== last.receipt.hash) problems.push(`${storeId}: prevHash is not the last old hash`);
      }
      noProblems(problems, 2);
      return undefined;
    });
    await check(checks, "old Idempotency-Keys replay (200, the same receipt)", async () => {
      const problems: string[] = [];
      for (const i of old.issued) {
        const res = await postReceipt(base, i.token, i.key, i.body);
        const r = asReceipt(res.body);
        if (res.status !== 200) problems.push(`${i.key}: ${res.status} ${JSON.stringify(res.body)}`);
        else if (r.code !== i.receipt.code || r.hash !== i.receipt.hash) problems.push(`${i.key}: another receipt`);
      }
      noProblems(problems, old.issued.length);
      return undefined;
    });
    await check(checks, "the old tenant key works", async () => {
      const path = `/v1/tenants/${old.demo.tenantId}/stores/upgrade-a`;
      const res = await apiCall(base, "PUT", path, old.demo.tenantKey, {
        name: "upgrade-a",
        timezone: "Europe/Berlin",
      });
      if (res.status !== 200) throw new Error(`PUT ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      const now = JSON.parse(readFileSync(resolve(data, "demo.json"), "utf8")) as Demo;
      if (now.tenantId !== old.demo.tenantId) throw new Error(`dev replaced the demo tenant with ${now.tenantId}`);
      return undefined;
    });
    await check(checks, "npm run audit", async () => {
      const out = await run(
        "npm",
        [
          ...["run", "--silent", "audit", "--", "--quiet"],
          ...["--database-url", `postgres://postgres@127.0.0.1:${ports.pg}/tillproof`],
          ...["--url", base, "--code-key", CODE_KEY, "--operator-token", OPERATOR_TOKEN],
        ],
        { cwd: ROOT, env },
      );
      return tail(out, 1).trim();
    });
  } finally {
    if (checks.some((c) => !c.ok)) say(`the new dev's last lines:\n${tail(dev.output(), 25)}`);
    await stopDev(dev);
  }
  await waitPortsFree(ports);
  return checks;
}

// ---------------------------------------------------------------- driver

/** One release, start to end; its worktree and data are removed whatever happens. */
async function testRelease(rel: Release, ports: Ports): Promise<{ ok: boolean; line: string }> {
  const started = Date.now();
  const dir = resolve(TMP, `rel-${rel.commit}`);
  const data = resolve(TMP, `data-${rel.commit}`);
  const base = `http://127.0.0.1:${ports.http}`;
  const label = `${rel.commit}${rel.date ? ` (${rel.date})` : ""}`;
  try {
    say(`${rel.commit}: worktree and npm ci${rel.note ? ` — ${rel.note}` : ""}`);
    await checkoutRelease(rel.commit, dir);
    // One data folder for both phases: the old release knows only <repo>/.data.
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o755);
    symlinkSync(data, resolve(dir, ".data"));
    const installed = secondsSince(started);
    const old = await oldPhase(rel, dir, data, ports, base);
    const t = Date.now();
    const checks = await newPhase(rel, data, ports, base, old);
    const failed = checks.filter((c) => !c.ok);
    const times = `install ${installed} s, old ${old.secs} s, new ${secondsSince(t)} s`;
    return failed.length
      ? { ok: false, line: `FAIL ${label}: ${failed.map((c) => c.name).join("; ")} (${times})` }
      : { ok: true, line: `PASS ${label}: ${checks.length} checks (${times})` };
  } catch (e) {
    say(`${rel.commit}: ${(e as Error).message}`);
    return {
      ok: false,
      line: `FAIL ${label}: ${(e as Error).message.split("\n")[0]} (after ${secondsSince(started)} s)`,
    };
  } finally {
    for (const dev of running) await stopDev(dev);
    if (existsSync(dir)) await removeWorktree(dir);
  }
}

let cleaning: Promise<void> | null = null;

/** Stops every dev still running and removes the worktrees and, unless kept, the folder. */
function cleanUp(keep: boolean): Promise<void> {
  cleaning ??= (async () => {
    for (const dev of running) await stopDev(dev).catch(() => {});
    for (const name of existsSync(TMP) ? readdirSync(TMP) : [])
      if (name.startsWith("rel-")) await removeWorktree(resolve(TMP, name));
    if (keep) say(`kept ${TMP}`);
    else rmSync(TMP, { recursive: true, force: true });
  })();
  return cleaning;
}

function releasesToTest(named: string[]): Release[] {
  const listed = JSON.parse(readFileSync(RELEASES, "utf8")) as Release[];
  if (!named.length) return listed;
  return named.map((c) => listed.find((r) => r.commit.startsWith(c) || c.startsWith(r.commit)) ?? { commit: c });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { keep: { type: "boolean" } }, allowPositionals: true });
  const keep = values.keep ?? false;
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.on(signal, () => {
      say(`${signal}: cleaning up`);
      void cleanUp(keep).finally(() => process.exit(130));
    });
  const releases = releasesToTest(positionals);
  for (const rel of releases) await run("git", ["rev-parse", "--verify", `${rel.commit}^{commit}`], { cwd: ROOT });
  mkdirSync(TMP, { mode: 0o755 });
  chmodSync(TMP, 0o755);
  const [http = 0, pg = 0, tunnel = 0, witness = 0] = await freePorts(4);
  const ports = { http, pg, tunnel, witness };
  say(`${releases.length} release(s); ports ${http} (HTTP), ${pg} (Postgres), ${tunnel} (tunnel); in ${TMP}`);
  say(`the new code: the working tree at ${ROOT}`);
  const results: { ok: boolean; line: string }[] = [];
  try {
    for (const rel of releases) {
      const result = await testRelease(rel, ports);
      say(result.line);
      results.push(result);
    }
  } finally {
    await cleanUp(keep);
  }
  console.log();
  for (const r of results) console.log(r.line);
  const passed = results.filter((r) => r.ok).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  process.exitCode = passed === results.length ? 0 : 1;
}

main().catch(async (e: Error) => {
  console.error(`[upgrade] ${e.message}`);
  await cleanUp(false);
  process.exit(1);
});
