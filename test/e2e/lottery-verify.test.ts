/**
 * `npm run lottery:verify` against a real stack: a draw made and run through
 * the API checks out (exit 0); the same draw served through a proxy that
 * changes one published ending, or one shard's root, fails (exit 1).
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callStack, OPERATOR_TOKEN, type Stack, startStack } from "../../scripts/lib/stack/local.ts";

let stack: Stack;
const drawId = `e2e-${Date.now().toString(36)}`;

const api = (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) =>
  callStack(stack, method, path, token, body, headers);

function verify(url: string, extra: string[] = []): Promise<{ status: number | null; stdout: string }> {
  return new Promise((done) => {
    execFile(
      resolve(import.meta.dirname, "../../node_modules/.bin/node"),
      ["scripts/lottery-verify.ts", drawId, "--url", url, ...extra],
      { cwd: resolve(import.meta.dirname, "../..") },
      (error, stdout) => done({ status: error ? ((error as { code?: number }).code ?? null) : 0, stdout }),
    );
  });
}

/** A proxy to the stack that rewrites the draw's JSON answer with `edit`. */
async function tamperingProxy(edit: (draw: Record<string, unknown>) => void): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const upstream = await fetch(`${stack.baseUrl}${req.url}`);
    let body = Buffer.from(await upstream.arrayBuffer());
    if (req.url === `/v1/lottery/draws/${drawId}`) {
      const json = JSON.parse(body.toString()) as { draw: Record<string, unknown> };
      edit(json.draw);
      body = Buffer.from(JSON.stringify(json));
    }
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "text/plain" });
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`, server };
}

beforeAll(async () => {
  stack = await startStack();
  const t = await api("POST", "/v1/tenants", OPERATOR_TOKEN, { id: `${drawId}-t`, name: "Draw test" });
  const key = String(t.body.apiKey);
  const closesAt = new Date(Date.now() + 4_000).toISOString();
  const created = await api("POST", "/v1/lottery/draws", OPERATOR_TOKEN, {
    id: drawId,
    title: "E2E draw",
    closesAt,
    prizes: [{ name: "Tea", digits: 2, numbers: 10 }],
  });
  expect(created.status).toBe(201);
  const tokens: string[] = [];
  for (const store of ["a1", "b2"]) {
    await api("PUT", `/v1/tenants/${drawId}-t/stores/${store}`, key, { name: store, timezone: "Europe/Berlin" });
    const r = await api("POST", `/v1/tenants/${drawId}-t/stores/${store}/terminals`, key, { id: "till-1" });
    tokens.push(String(r.body.token));
    for (let i = 0; i < 5; i++) {
      const sale = {
        issuedAt: new Date().toISOString(),
        currency: "EUR",
        items: [{ name: "Tea", quantity: 1, unitPrice: 300 + i, total: 300 + i }],
        total: 300 + i,
        payments: [{ method: "cash", amount: 300 + i }],
      };
      expect(
        (await api("POST", "/v1/receipts", String(r.body.token), sale, { "idempotency-key": `${store}-${i}` })).status,
      ).toBe(201);
    }
  }
  await new Promise((ok) => setTimeout(ok, Math.max(0, Date.parse(closesAt) - Date.now() + 100)));
  // One sale after the close: its shard's proof shows it as the first leaf past the cut.
  const late = {
    issuedAt: new Date().toISOString(),
    currency: "EUR",
    items: [{ name: "Tea", quantity: 1, unitPrice: 400, total: 400 }],
    total: 400,
    payments: [{ method: "cash", amount: 400 }],
  };
  expect((await api("POST", "/v1/receipts", tokens[0] ?? "", late, { "idempotency-key": "late" })).status).toBe(201);
  for (let i = 0; ; i++) {
    const run = await api("POST", `/v1/lottery/draws/${drawId}/run`, OPERATOR_TOKEN);
    if (run.status === 200) break;
    if (i > 60) throw new Error(`run: ${run.status} ${JSON.stringify(run.body)}`);
    await new Promise((ok) => setTimeout(ok, 500));
  }
  // Checkpoints are signed within CHECKPOINT_MS of the last receipt; give them a moment.
  await new Promise((ok) => setTimeout(ok, 500));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("npm run lottery:verify", () => {
  it("agrees with the server on a drawn lottery", async () => {
    const out = await verify(stack.baseUrl);
    expect(out.stdout).toContain(`draw ${drawId} checks out`);
    // Each shard's size is proven to be the close, one of them with the sale made after it.
    expect(out.stdout).toMatch(
      /ok +shard \d+: size 5 is the close \(entry 5 at \S+ < close ≤ entry 6 at \S+, \d+ cosignature/,
    );
    expect(out.stdout).toMatch(
      /ok +shard \d+: size 5 is the close \(entry 5 at \S+ < close ≤ the witnessed tree's end \(5\)/,
    );
    expect(out.stdout).not.toContain("FAIL");
    expect(out.status).toBe(0);
  }, 60_000);

  it("checks a pinned log key and the commitment seen before the close", async () => {
    const draw = (await callStack(stack, "GET", `/v1/lottery/draws/${drawId}`, "")).body as unknown as {
      draw: { commitment: string };
    };
    const key = (await (await fetch(`${stack.baseUrl}/v1/log/key`)).text()).trim();
    const pinned = await verify(stack.baseUrl, ["--key", key, "--commitment", draw.draw.commitment]);
    expect(pinned.status).toBe(0);
    const wrong = await verify(stack.baseUrl, ["--commitment", "00".repeat(32)]);
    expect(wrong.status).toBe(1);
    expect(wrong.stdout).toContain("FAIL");
  }, 60_000);

  it("fails on a changed winning ending, a changed shard root, a cut shown on the wrong side of the close, and a withheld proof", async () => {
    for (const edit of [
      (d: Record<string, unknown>) => {
        const w = d.winningNumbers as { suffixes: string[] }[];
        const first = w[0]?.suffixes[0] ?? "00";
        if (w[0]) w[0].suffixes[0] = first === "00" ? "11" : "00";
      },
      (d: Record<string, unknown>) => {
        const s = d.shards as { root: string }[];
        if (s[0]) s[0].root = `${s[0].root.slice(0, -2)}${s[0].root.endsWith("00") ? "11" : "00"}`;
      },
      // A first leaf after the close, claimed to be before it (the cut then looks too early).
      (d: Record<string, unknown>) => {
        const b = (d.boundaries as { next: { receivedAt: string } | null }[]).find((x) => x.next);
        if (b?.next) b.next.receivedAt = new Date(Date.parse(d.closesAt as string) - 1).toISOString();
      },
      // A shard's proof withheld.
      (d: Record<string, unknown>) => {
        (d.boundaries as unknown[]).shift();
      },
    ]) {
      const proxy = await tamperingProxy(edit);
      try {
        const out = await verify(proxy.url);
        expect(out.stdout).toContain("FAIL");
        expect(out.status).toBe(1);
      } finally {
        proxy.server.close();
      }
    }
  }, 60_000);
});
