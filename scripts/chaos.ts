/**
 * `npm run chaos`: terminals issue receipts at a steady rate against a real
 * local stack (the one the browser tests use: embedded Postgres, the tunnel,
 * the Worker in workerd with its queue and consumer) while faults come one
 * after another. After each, it waits for the pipeline to drain and checks
 * every code that got a 201: in Postgres exactly once, with the same hash.
 *
 *   npm run chaos              # each fault for 20–60 s (about 6 minutes)
 *   npm run chaos -- --quick   # each fault for 5 s (CI: under 2 minutes)
 *   npm run chaos -- --only burst   # the faults whose name contains "burst"
 *
 * Faults: Postgres unreachable (the Worker's tunnel refuses it), the consumer
 * failing (its role loses INSERT), shard objects reset right after a send
 * delivered (before they record it), duplicate queue deliveries, sends that
 * deliver but report failure, and a 10× burst. The middle three are armed
 * through POST /v1/ops/faults, which exists only in the chaos entry
 * (scripts/lib/chaos/entry.ts), never in the product's bundle.
 * Exits 1 on any loss, any duplicate, or a 5xx other than 503 with Retry-After.
 */
import { parseArgs } from "node:util";
import type { FaultName } from "./lib/chaos/faults.ts";
import { OPERATOR_TOKEN, type Stack, startStack } from "./lib/stack/local.ts";

const { values: args } = parseArgs({
  options: { quick: { type: "boolean", default: false }, only: { type: "string" } },
});
const QUICK = args.quick;
const RATE = QUICK ? 30 : 60; // receipts a second, steady
const t0 = Date.now();
const say = (line: string) => console.log(`[chaos ${((Date.now() - t0) / 1000).toFixed(0).padStart(3)}s] ${line}`);
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

type Sent = { code: string; hash: string };
type Tally = {
  requests: number;
  issued: number;
  replayed: number;
  retryable: number;
  timeouts: number;
  bad5xx: number;
  other: number;
};

const sale = (i: number) => ({
  issuedAt: new Date().toISOString(),
  currency: "EUR",
  items: [{ name: `Item ${i % 50}`, quantity: 1, unitPrice: 100 + (i % 7), total: 100 + (i % 7) }],
  total: 100 + (i % 7),
  payments: [{ method: i % 2 ? "card" : "cash", amount: 100 + (i % 7) }],
});

async function api(stack: Stack, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${stack.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

/** Four stores with two terminals each, through the API. */
async function fleet(stack: Stack): Promise<string[]> {
  const id = `chaos-${Date.now().toString(36)}`;
  const t = await api(stack, "POST", "/v1/tenants", OPERATOR_TOKEN, { id, name: "Chaos" });
  const key = t.body.apiKey ?? "";
  const tokens: string[] = [];
  for (let s = 0; s < 4; s++) {
    await api(stack, "PUT", `/v1/tenants/${id}/stores/s${s}`, key, { name: `Store ${s}`, timezone: "Europe/Berlin" });
    for (let n = 0; n < 2; n++) {
      const r = await api(stack, "POST", `/v1/tenants/${id}/stores/s${s}/terminals`, key, { id: `till-${n}` });
      tokens.push(r.body.token ?? "");
    }
  }
  return tokens;
}

/** Sales in flight at once, as a fleet of this many terminals that each wait for their answer. */
const TERMINALS_IN_FLIGHT = 48;

/**
 * Issues receipts at `rate` a second until stopped, at most
 * TERMINALS_IN_FLIGHT at a time (a sale waits for a free terminal). Each sale
 * is retried with its own Idempotency-Key after a 503/429 (after Retry-After)
 * or a connection that fails (backing off, doubling to 8 s, with jitter), as a
 * terminal does, up to 20 times.
 */
function drive(stack: Stack, tokens: string[], sent: Map<string, Sent>, run: string) {
  let rate = RATE;
  let stopped = false;
  let n = 0;
  const tally: Tally = { requests: 0, issued: 0, replayed: 0, retryable: 0, timeouts: 0, bad5xx: 0, other: 0 };
  const inflight = new Set<Promise<void>>();
  const one = async (i: number) => {
    const key = `chaos-${run}-${i}`;
    const token = tokens[i % tokens.length] ?? "";
    // A terminal retries the very same sale: same key, same body.
    const body = JSON.stringify(sale(i));
    for (let attempt = 0; attempt < 20; attempt++) {
      tally.requests++;
      const res = await fetch(`${stack.baseUrl}/v1/receipts`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": key },
        body,
        // An overloaded local stack may drop a connection: the terminal gives up and retries the same key.
        signal: AbortSignal.timeout(15_000),
      }).catch(() => null);
      if (!res) {
        tally.timeouts++;
        if (tally.timeouts === 1) say("  a request failed without an answer (connection refused, reset or timed out)");
        await sleep(Math.min(8_000, 250 * 2 ** attempt) * (0.5 + Math.random()));
        continue;
      }
      const answer = (await res.json().catch(() => ({}))) as { code?: string; hash?: string };
      if (res.status === 201 || res.status === 200) {
        if (res.status === 201) tally.issued++;
        else tally.replayed++;
        const code = (answer.code ?? "").replaceAll("-", "");
        sent.set(key, { code, hash: answer.hash ?? "" });
        return;
      }
      if ((res.status === 503 || res.status === 429) && res.headers.get("retry-after")) {
        tally.retryable++;
        await sleep(Math.min(2_000, Number(res.headers.get("retry-after")) * 250));
        continue;
      }
      if (res.status >= 500) {
        tally.bad5xx++;
        if (tally.bad5xx <= 3) say(`  a ${res.status} without Retry-After: ${JSON.stringify(answer).slice(0, 200)}`);
      } else {
        tally.other++;
        if (tally.other <= 3) say(`  an unexpected ${res.status}: ${JSON.stringify(answer).slice(0, 200)}`);
      }
      return;
    }
  };
  const loop = (async () => {
    let next = Date.now();
    while (!stopped) {
      while (inflight.size >= TERMINALS_IN_FLIGHT) await Promise.race(inflight);
      const p = one(n++).finally(() => inflight.delete(p));
      inflight.add(p);
      next = Math.max(next + 1000 / rate, Date.now() - 1000); // catch up at most a second behind
      await sleep(Math.max(0, next - Date.now()));
    }
    await Promise.all(inflight);
  })();
  return {
    tally,
    setRate: (r: number) => {
      rate = r;
    },
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** Waits until Postgres holds every code that got a 201 and the shards hold nothing unconfirmed. */
async function drain(stack: Stack, sent: Map<string, Sent>, limitMs: number): Promise<number> {
  const start = Date.now();
  const codes = [...sent.values()].map((s) => s.code);
  while (Date.now() - start < limitMs) {
    const [row] = await stack.sql<{ n: string }>(
      "SELECT count(DISTINCT code) AS n FROM receipts WHERE code = ANY($1)",
      [codes],
    );
    const pipeline = await fetch(`${stack.baseUrl}/v1/ops/pipeline`, {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    }).then((r) => r.json() as Promise<{ totals: { unpersisted: number } }>);
    if (Number(row?.n) === codes.length && pipeline.totals.unpersisted === 0) return Date.now() - start;
    await sleep(500);
  }
  return Number.NaN;
}

/** Every code that got a 201: present once, with the hash the terminal was given. */
async function check(
  stack: Stack,
  sent: Map<string, Sent>,
): Promise<{ lost: number; duplicated: number; altered: number }> {
  const expected = new Map([...sent.values()].map((s) => [s.code, s.hash]));
  const rows = await stack.sql<{ code: string; hash: string; n: string }>(
    "SELECT code, min(hash) AS hash, count(*) AS n FROM receipts WHERE code = ANY($1) GROUP BY code",
    [[...expected.keys()]],
  );
  const found = new Map(rows.map((r) => [r.code.trim(), r]));
  let lost = 0;
  let duplicated = 0;
  let altered = 0;
  for (const [code, hash] of expected) {
    const r = found.get(code);
    if (!r) lost++;
    else {
      if (Number(r.n) > 1) duplicated++;
      if (r.hash !== hash) altered++;
    }
  }
  return { lost, duplicated, altered };
}

type Fault = {
  name: string;
  /** Armed in the Worker: it logs each time it strikes, and a run where it never struck proves nothing. */
  armed?: true;
  seconds: number;
  start: (stack: Stack, setRate: (r: number) => void) => Promise<void>;
  end: (stack: Stack, setRate: (r: number) => void) => Promise<void>;
};

/** Arms a fault in the Worker (POST /v1/ops/faults) for `seconds`. */
async function arm(stack: Stack, fault: FaultName, seconds: number): Promise<void> {
  const res = await api(stack, "POST", "/v1/ops/faults", OPERATOR_TOKEN, { fault, seconds });
  if (res.status !== 200) throw new Error(`arming ${fault}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** A fault armed in the Worker for the fault's whole window (re-armed every `every` ms when given: one eviction per arming). */
function armed(name: string, fault: FaultName, seconds: number, every?: number): Fault {
  let timer: NodeJS.Timeout | undefined;
  return {
    name,
    armed: true,
    seconds,
    start: async (stack) => {
      await arm(stack, fault, every ? every / 1000 : seconds);
      if (every) timer = setInterval(() => void arm(stack, fault, every / 1000).catch(() => {}), every);
    },
    end: async () => clearInterval(timer),
  };
}

const FAULTS: Fault[] = [
  {
    name: "Postgres unreachable",
    seconds: QUICK ? 5 : 60,
    start: async (stack) => stack.postgresDown(true),
    end: async (stack) => stack.postgresDown(false),
  },
  {
    name: "consumer failing (no INSERT)",
    seconds: QUICK ? 5 : 30,
    start: async (stack) => {
      await stack.sql("REVOKE INSERT ON receipts FROM tillproof_app");
    },
    end: async (stack) => {
      await stack.sql("GRANT INSERT ON receipts TO tillproof_app");
    },
  },
  armed("shard objects evicted mid-flush", "evict_mid_flush", QUICK ? 5 : 30, 1_000),
  armed("duplicate queue deliveries", "duplicate_delivery", QUICK ? 5 : 30),
  armed("sendBatch fails after delivering", "send_then_throw", QUICK ? 5 : 30),
  {
    name: "burst of 10× the rate",
    seconds: QUICK ? 4 : 20,
    start: async (_, setRate) => setRate(RATE * 10),
    end: async (_, setRate) => setRate(RATE),
  },
];

async function main(): Promise<number> {
  say(`starting the stack (${QUICK ? "quick" : "full"}: ${RATE} receipts/s steady)`);
  const stack = await startStack({ chaos: true });
  try {
    const tokens = await fleet(stack);
    const rows: string[][] = [];
    let failed = false;
    const chosen = FAULTS.filter((x) => !args.only || x.name.includes(args.only));
    if (!chosen.length) throw new Error(`no fault matches --only ${args.only}`);
    for (const [f, fault] of chosen.entries()) {
      const sent = new Map<string, Sent>();
      const driveStart = Date.now();
      const driver = drive(stack, tokens, sent, `${t0}-${f}`);
      await sleep(QUICK ? 1_000 : 2_000);
      say(`${fault.name}: ${fault.seconds} s`);
      const logsBefore = stack.logs().length;
      await fault.start(stack, driver.setRate);
      const progress = setInterval(() => {
        const t = driver.tally;
        say(`  ${t.requests} requests, ${t.issued} issued, ${t.retryable} told to retry, ${t.bad5xx} bad 5xx`);
      }, 2_000);
      await sleep(fault.seconds * 1000);
      clearInterval(progress);
      await fault.end(stack, driver.setRate);
      await sleep(QUICK ? 2_000 : 3_000);
      await driver.stop();
      const perSecond = (driver.tally.issued + driver.tally.replayed) / ((Date.now() - driveStart) / 1000);
      // How often an injected fault struck, from the Worker's own log lines.
      const struck = stack
        .logs()
        .slice(logsBefore)
        .filter((l) => l.includes("chaos:")).length;
      say(`${fault.name}: ${driver.tally.issued} issued; draining`);
      const drainMs = await drain(stack, sent, QUICK ? 90_000 : 300_000);
      const result = await check(stack, sent);
      const t = driver.tally;
      const bad =
        result.lost + result.duplicated + result.altered + t.bad5xx + t.other > 0 ||
        Number.isNaN(drainMs) ||
        (fault.armed === true && struck === 0);
      failed ||= bad;
      rows.push([
        fault.name,
        String(t.requests),
        String(t.issued),
        perSecond.toFixed(0),
        String(t.bad5xx),
        String(t.retryable),
        String(t.timeouts),
        fault.armed ? String(struck) : "-",
        String(result.lost),
        String(result.duplicated),
        Number.isNaN(drainMs) ? "did not drain" : (drainMs / 1000).toFixed(1),
        bad ? "FAIL" : "ok",
      ]);
    }
    const head = [
      "fault",
      "requests",
      "201s",
      "201s/s",
      "5xx",
      "429/503",
      "timeouts",
      "struck",
      "lost",
      "duplicated",
      "s to drain",
      "",
    ];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (r: string[]) =>
      `  ${r.map((c, i) => (i ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ")}`;
    console.log(`\n${line(head)}\n${rows.map(line).join("\n")}\n`);
    return failed ? 1 : 0;
  } finally {
    await stack.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`[chaos] failed: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
