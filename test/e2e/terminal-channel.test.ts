/**
 * The terminal client over the terminal channel against a real local stack:
 * receipts travel over the WebSocket (no HTTP request per receipt); a socket
 * closed mid-sale is retried over HTTP with the same key and gets the same
 * code; where no socket can be opened the client uses HTTP by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SaleInput, TerminalClient, type WebSocketLike } from "../../clients/terminal/index.ts";
import { type Stack, stackTerminal, startStack } from "../../scripts/lib/stack/local.ts";

let stack: Stack;
let token = "";
const tenantId = `channel-${Date.now().toString(36)}`;

const sale = (n: number): SaleInput => ({
  issuedAt: new Date().toISOString(),
  currency: "EUR",
  items: [{ name: `Sale ${n}`, quantity: 1, unitPrice: 500 + n, total: 500 + n }],
  total: 500 + n,
  payments: [{ method: "cash", amount: 500 + n }],
});

/** A fetch that counts the requests the client makes over HTTP. */
function countingFetch() {
  const paths: string[] = [];
  const f = ((input: RequestInfo | URL, init?: RequestInit) => {
    paths.push(new URL(String(input)).pathname);
    return fetch(input, init);
  }) as typeof fetch;
  return { f, paths };
}

const NodeWebSocket = (globalThis as unknown as { WebSocket: WebSocketLike }).WebSocket;

beforeAll(async () => {
  stack = await startStack();
  token = await stackTerminal(stack, tenantId, "Channel test");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("the terminal client over the channel", () => {
  it("sends receipts over the socket, with no HTTP request per receipt", async () => {
    const http = countingFetch();
    const client = new TerminalClient({ baseUrl: stack.baseUrl, token, fetch: http.f });
    const codes = new Set<string>();
    for (let n = 1; n <= 5; n++) codes.add((await client.issueReceipt(sale(n))).code);
    const batch = await client.issueOrQueue(sale(6));
    expect("receipt" in batch).toBe(true);
    client.close();
    expect(codes.size).toBe(5);
    expect(http.paths).toEqual([]);
  });

  it("a socket closed mid-sale: the same key over HTTP, the same code", async () => {
    // A socket that closes itself right after sending its first message.
    const Closing = class extends (NodeWebSocket as unknown as typeof WebSocket) {
      override send(data: string) {
        super.send(data);
        this.close(1000, "test: dropped mid-sale");
      }
    } as unknown as WebSocketLike;
    const http = countingFetch();
    const client = new TerminalClient({ baseUrl: stack.baseUrl, token, fetch: http.f, WebSocket: Closing });
    const key = `mid-${Date.now().toString(36)}`;
    const body = sale(7);
    const receipt = await client.issueReceipt(body, key);
    client.close();
    expect(http.paths).toContain("/v1/receipts");
    // Whoever took it first, the key has one code.
    const plain = new TerminalClient({ baseUrl: stack.baseUrl, token, channel: false });
    expect((await plain.issueReceipt(body, key)).code).toBe(receipt.code);
  });

  it("uses HTTP by itself where no socket can be opened", async () => {
    const Refused = class {
      constructor() {
        throw new Error("no sockets here");
      }
    } as unknown as WebSocketLike;
    const http = countingFetch();
    const client = new TerminalClient({ baseUrl: stack.baseUrl, token, fetch: http.f, WebSocket: Refused });
    const receipt = await client.issueReceipt(sale(8));
    expect(receipt.code).toMatch(/^[0-9A-Z-]+$/);
    expect(http.paths).toEqual(["/v1/receipts"]);
  });
});
