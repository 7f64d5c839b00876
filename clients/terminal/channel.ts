/**
 * The terminal channel (contract: docs/api.md "Terminal channel"): one
 * WebSocket to the terminal's shard, opened on first use with the token.
 * A request travels as a message with the same body and Idempotency-Key as
 * over HTTP, and its answer has the same status and body. When the socket
 * cannot be opened, or closes before an answer, `request` returns null and
 * the client sends the same request over HTTP, with the same key; the
 * channel is tried again after a pause.
 */

/** A WebSocket constructor that takes headers (Node's global one does; so does the `ws` package). */
export type WebSocketLike = new (
  url: string,
  init: { headers: Record<string, string> },
) => {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(
    type: "open" | "message" | "close" | "error",
    fn: (e: { data?: unknown; code?: number }) => void,
  ): void;
};

type Socket = InstanceType<WebSocketLike>;
export type ChannelAnswer = { status: number; body: unknown; retryAfter?: number };

/** How long the channel rests after it failed before it is tried again. */
const REST_MS = 30_000;
/** The terminal's token is refused: the socket is not reopened (HTTP gives the 401). */
const CLOSE_UNAUTHORIZED = 4001;

export class TerminalChannel {
  private socket: Socket | null = null;
  private opening: Promise<Socket | null> | null = null;
  private restUntil = 0;
  private next = 0;
  private readonly waiting = new Map<string, (a: ChannelAnswer | null) => void>();
  private readonly url: string;
  private readonly token: string;
  private readonly WebSocketImpl: WebSocketLike;
  private readonly now: () => number;

  constructor(baseUrl: string, token: string, WebSocketImpl: WebSocketLike, now: () => number = Date.now) {
    this.url = `${baseUrl.replace(/^http/, "ws")}/v1/terminals/channel`;
    this.token = token;
    this.WebSocketImpl = WebSocketImpl;
    this.now = now;
  }

  /** The answer over the channel, or null: send it over HTTP instead (with the same key). */
  async request(
    path: string,
    body: unknown,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<ChannelAnswer | null> {
    const message = messageFor(path, body, headers);
    if (!message || this.now() < this.restUntil) return null;
    const ws = await this.open(timeoutMs);
    if (!ws) return null;
    const id = String(++this.next);
    return new Promise<ChannelAnswer | null>((resolve) => {
      // No answer in time: the socket is suspect; HTTP takes this request and the next ones for a while.
      const timer = setTimeout(() => {
        this.rest();
        this.close();
        settle(null);
      }, timeoutMs);
      const settle = (a: ChannelAnswer | null) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(a);
      };
      this.waiting.set(id, settle);
      try {
        ws.send(JSON.stringify({ id, ...message }));
      } catch {
        settle(null);
      }
    });
  }

  close(): void {
    this.socket?.close(1000, "done");
    this.socket = null;
  }

  private open(timeoutMs: number): Promise<Socket | null> {
    if (this.socket && this.socket.readyState === 1) return Promise.resolve(this.socket);
    this.opening ??= new Promise<Socket | null>((resolve) => {
      let ws: Socket;
      try {
        ws = new this.WebSocketImpl(this.url, { headers: { authorization: `Bearer ${this.token}` } });
      } catch {
        this.rest();
        resolve(null);
        return;
      }
      const timer = setTimeout(() => {
        this.rest();
        ws.close();
        resolve(null);
      }, timeoutMs);
      ws.addEventListener("open", () => {
        clearTimeout(timer);
        this.socket = ws;
        resolve(ws);
      });
      ws.addEventListener("message", (e) => {
        try {
          const a = JSON.parse(String(e.data)) as ChannelAnswer & { id: string | null };
          if (a.id !== null) this.waiting.get(a.id)?.({ status: a.status, body: a.body, retryAfter: a.retryAfter });
        } catch {
          // not an answer of ours
        }
      });
      const down = (code?: number) => {
        clearTimeout(timer);
        if (this.socket === ws) this.socket = null;
        // Everything unanswered goes over HTTP now, with its key: the gateway replays what it issued.
        for (const settle of [...this.waiting.values()]) settle(null);
        if (code === CLOSE_UNAUTHORIZED || code === undefined) this.rest();
        resolve(null);
      };
      ws.addEventListener("close", (e) => down(e.code ?? 1006));
      ws.addEventListener("error", () => down(undefined));
    }).finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private rest(): void {
    this.restUntil = this.now() + REST_MS;
  }
}

/** The channel's message for an HTTP request of the client, or null when it has none. */
function messageFor(path: string, body: unknown, headers: Record<string, string>): Record<string, unknown> | null {
  const backlog = headers["tillproof-offline-backlog"];
  const extra = backlog === undefined ? {} : { offlineBacklog: backlog };
  if (path === "/v1/receipts") {
    return { type: "receipt", idempotencyKey: headers["idempotency-key"], receipt: body, ...extra };
  }
  if (path === "/v1/receipts/batch") {
    return { type: "batch", receipts: (body as { receipts: unknown[] }).receipts, ...extra };
  }
  return null;
}
