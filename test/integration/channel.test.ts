/**
 * The terminal channel in workerd against Postgres (contract: docs/api.md
 * "Terminal channel"): receipts over a WebSocket to the shard get the same
 * statuses and bodies as over HTTP, an Idempotency-Key means the same on both,
 * a socket dropped before its answer is retried to the same code, a revoked
 * terminal's socket is closed, a newer socket replaces an older one, one
 * shard holds 200 sockets at once, and a socket outlives its shard's
 * hibernation with every receipt issued exactly once.
 */
import { env, evictDurableObject, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseCode } from "../../core/code.ts";
import type { StoreShard } from "../../durable-objects/store-shard.ts";
import { shard } from "../../workers/shards.ts";
import {
  call,
  compact,
  eventually,
  type Fixture,
  fixture,
  issue,
  sale,
  sqlQuery,
  uid,
  useShardBand,
} from "./helpers.ts";

useShardBand(19);

type Reply = {
  id: string | null;
  status: number;
  body: Record<string, unknown> & { error?: { code: string; requestId?: string } };
};

/** A terminal's socket: send a message, await the reply with its id; see how it closed. */
type Channel = {
  ask: (m: Record<string, unknown>) => Promise<Reply>;
  sendRaw: (data: string | ArrayBuffer) => Promise<Reply>;
  close: () => void;
  closed: Promise<{ code: number; reason: string }>;
};

async function connect(token: string | null): Promise<Channel> {
  const res = await SELF.fetch("https://tillproof.test/v1/terminals/channel", {
    headers: { upgrade: "websocket", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) throw new Error(`no upgrade: ${res.status} ${await res.text()}`);
  ws.accept();
  const waiting = new Map<string | null, (r: Reply) => void>();
  ws.addEventListener("message", (e) => {
    const r = JSON.parse(String(e.data)) as Reply;
    waiting.get(r.id)?.(r);
    waiting.delete(r.id);
  });
  const closed = new Promise<{ code: number; reason: string }>((ok) =>
    ws.addEventListener("close", (e) => ok({ code: e.code, reason: e.reason })),
  );
  const expect = (id: string | null) => new Promise<Reply>((ok) => waiting.set(id, ok));
  return {
    ask: (m) => {
      const answer = expect(String(m.id));
      ws.send(JSON.stringify(m));
      return answer;
    },
    sendRaw: (data) => {
      const answer = expect(null);
      ws.send(data);
      return answer;
    },
    close: () => ws.close(1000, "done"),
    closed,
  };
}

const receiptMessage = (id: string, key: string, body: unknown = sale()) => ({
  id,
  type: "receipt",
  idempotencyKey: key,
  receipt: body,
});
const withoutRequestId = (b: Record<string, unknown>) => {
  const { requestId: _, ...error } = (b.error ?? {}) as Record<string, unknown>;
  return { ...b, error };
};

describe("terminal channel", () => {
  let f: Fixture;

  it("opens only as a WebSocket, with a terminal token", async () => {
    f = await fixture();
    const plain = await call("GET", "/v1/terminals/channel", { token: f.token });
    expect(plain.status).toBe(426);
    expect((plain.body as { error: { code: string } }).error.code).toBe("upgrade_required");
    const anonymous = await SELF.fetch("https://tillproof.test/v1/terminals/channel", {
      headers: { upgrade: "websocket" },
    });
    expect(anonymous.status).toBe(401);
    await anonymous.text();
  });

  it("issues, replays and refuses a conflict as HTTP does, with one key across both", async () => {
    f ??= await fixture();
    const ch = await connect(f.token);
    const key = uid("k");
    const issued = await ch.ask(receiptMessage("1", key));
    expect(issued.status).toBe(201);
    expect(issued.id).toBe("1");
    const code = String(issued.body.code);
    expect(issued.body.verifyUrl).toBe(`https://tillproof.test/r/${code}`);
    // The same key over HTTP: the identical body, as a replay.
    const http = await issue(f.token, sale(), key);
    expect(http.status).toBe(200);
    expect(http.body).toEqual(issued.body);
    // And over the socket again.
    const again = await ch.ask(receiptMessage("2", key));
    expect(again).toEqual({ id: "2", status: 200, body: issued.body });
    // A key first used over HTTP replays over the socket.
    const httpKey = uid("h");
    const first = await issue(f.token, sale({ total: 680 }), httpKey);
    expect(first.status).toBe(201);
    expect((await ch.ask(receiptMessage("3", httpKey))).body).toEqual(first.body);
    // Another body under the key: 409, the same error as HTTP.
    const other = sale({ cashier: "Someone else" });
    const conflict = await ch.ask(receiptMessage("4", key, other));
    const httpConflict = await issue(f.token, other, key);
    expect(conflict.status).toBe(409);
    expect(withoutRequestId(conflict.body)).toEqual(withoutRequestId(httpConflict.body as Record<string, unknown>));
    // A batch, each judged alone.
    const batch = await ch.ask({
      id: "5",
      type: "batch",
      receipts: [
        { ...sale(), idempotencyKey: uid("b") },
        { ...sale({ total: 1 }), idempotencyKey: uid("b") },
      ],
    });
    expect(batch.status).toBe(200);
    const results = batch.body.results as { status: number; error?: { code: string } }[];
    expect(results.map((r) => r.status)).toEqual([201, 400]);
    expect(results[1]?.error?.code).toBe("validation_failed");
    ch.close();
  });

  it("answers every client mistake with HTTP's status and error body, and stays open", async () => {
    f ??= await fixture();
    const ch = await connect(f.token);
    const bad = sale({ total: 1 });
    const overSocket = await ch.ask(receiptMessage("a", uid("k"), bad));
    const overHttp = await issue(f.token, bad);
    expect(overSocket.status).toBe(400);
    expect(withoutRequestId(overSocket.body)).toEqual(withoutRequestId(overHttp.body as Record<string, unknown>));
    expect(typeof overSocket.body.error?.requestId === "string").toBe(true);

    const card = sale({ cashier: "4111 1111 1111 1111" });
    expect((await ch.ask(receiptMessage("b", uid("k"), card))).body.error?.code).toBe("card_data_forbidden");
    expect((await ch.ask(receiptMessage("c", "not a key!", sale()))).body.error?.code).toBe("invalid_idempotency_key");
    expect((await ch.ask({ id: "d", type: "refund", receipt: sale() })).body.error?.code).toBe("validation_failed");
    expect((await ch.ask({ id: "e", type: "batch", receipts: [] })).body.error?.code).toBe("validation_failed");
    const notJson = await ch.sendRaw("{not json");
    expect(notJson.status).toBe(400);
    expect(notJson.id).toBeNull();
    const binary = await ch.sendRaw(new TextEncoder().encode("{}").buffer as ArrayBuffer);
    expect(binary.status).toBe(415);
    const tooBig = await ch.ask(
      receiptMessage("f", uid("k"), sale({ cashier: "x".repeat(300 * 1024) }) as Record<string, unknown>),
    );
    expect(tooBig.status).toBe(413);
    // Still open and issuing.
    expect((await ch.ask(receiptMessage("g", uid("k")))).status).toBe(201);
    ch.close();
  });

  it("a socket dropped before its answer: the retry, over a new socket, gets the same code", async () => {
    f ??= await fixture();
    const key = uid("drop");
    const first = await connect(f.token);
    void first.ask(receiptMessage("1", key)).catch(() => undefined);
    first.close();
    await first.closed;
    const second = await connect(f.token);
    const retried = await second.ask(receiptMessage("2", key));
    expect([200, 201]).toContain(retried.status);
    const httpReplay = await issue(f.token, sale(), key);
    expect(httpReplay.status).toBe(200);
    expect(httpReplay.body.code).toBe(retried.body.code);
    second.close();
  });

  it("one socket per terminal: a newer one closes the older (4009)", async () => {
    f ??= await fixture();
    const older = await connect(f.token);
    const newer = await connect(f.token);
    expect((await older.closed).code).toBe(4009);
    expect((await newer.ask(receiptMessage("1", uid("k")))).status).toBe(201);
    newer.close();
  });

  it("closes a revoked terminal's socket (4001), and refuses it a new one", async () => {
    const g = await fixture();
    const ch = await connect(g.token);
    expect((await ch.ask(receiptMessage("1", uid("k")))).status).toBe(201);
    const revoked = await call("DELETE", `/v1/tenants/${g.tenantId}/stores/${g.storeId}/terminals/${g.terminalId}`, {
      token: g.apiKey,
    });
    expect(revoked.status).toBe(204);
    expect((await ch.closed).code).toBe(4001);
    const again = await SELF.fetch("https://tillproof.test/v1/terminals/channel", {
      headers: { upgrade: "websocket", authorization: `Bearer ${g.token}` },
    });
    expect(again.status).toBe(401);
    await again.text();
  });

  it("holds 200 sockets on one shard, each issuing", async () => {
    f ??= await fixture();
    const tokens: string[] = [];
    for (let i = 0; i < 200; i += 20) {
      const made = await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          call<{ token: string }>("POST", `/v1/tenants/${f.tenantId}/stores/${f.storeId}/terminals`, {
            token: f.apiKey,
            body: { id: `sock-${i + j}` },
          }),
        ),
      );
      for (const r of made) {
        expect(r.status).toBe(201);
        tokens.push(r.body.token);
      }
    }
    const sockets = await Promise.all(tokens.map((t) => connect(t)));
    const replies = await Promise.all(sockets.map((s, i) => s.ask(receiptMessage(String(i), uid("many")))));
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 201));
    expect(new Set(replies.map((r) => r.body.code)).size).toBe(200);
    for (const s of sockets) s.close();
  });

  it("a socket outlives its shard's hibernation: the woken shard replays, goes on counting, and each receipt lands once", async () => {
    const g = await fixture();
    const n = Number(g.token.split("_")[1]);
    const stub = shard(env, n);
    const ch = await connect(g.token);
    const key = uid("sleep");
    const first = await ch.ask(receiptMessage("1", key));
    expect(first.status).toBe(201);
    const before = await runInDurableObject(stub, (instance: StoreShard) => instance);

    // Hibernated as the runtime does it to an idle object: the instance goes, the socket stays open.
    await evictDurableObject(stub, { webSockets: "hibernate" });
    const replay = await ch.ask(receiptMessage("2", key));
    expect(replay.status).toBe(200);
    expect(replay.body.code).toBe(first.body.code);
    const next = await ch.ask(receiptMessage("3", uid("awake")));
    expect(next.status).toBe(201);
    expect(await runInDurableObject(stub, (instance: StoreShard) => instance !== before)).toBe(true);
    const counter = (code: unknown) => parseCode("test-code-key", String(code))?.counter ?? 0;
    expect(counter(next.body.code)).toBe(counter(first.body.code) + 1);

    const codes = [first.body.code, next.body.code].map((c) => compact(String(c)));
    const rows = await eventually(async () => {
      const r = await sqlQuery<{ code: string; n: string }>(
        "SELECT code, count(*)::text AS n FROM receipts WHERE code = ANY($1) GROUP BY code",
        [codes],
      );
      return r.length === 2 ? r : null;
    });
    expect(rows.map((r) => r.n)).toEqual(["1", "1"]);
    ch.close();
  });
});
