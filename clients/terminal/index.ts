/**
 * The terminal client: issues receipts the way the gateway expects a terminal
 * to. Every sale gets an Idempotency-Key once and keeps it through every
 * retry, so a lost reply never issues twice; 429/503 wait for Retry-After,
 * failed connections back off (doubling, capped, jittered).
 *
 * Offline (contract v1.2): a terminal enrolled with its own key (`enroll`)
 * signs a sale the gateway cannot take now as an offline receipt and hands
 * back the QR to print, within its offline budget; `flush()` registers them
 * in terminalSeq order once the gateway answers again, and maps each to its
 * code. A terminal without a key queues the sale instead (`issueOrQueue`).
 * Both live in pluggable storage (a JSON file on Node).
 *
 * As a monitor (`monitor` storage): the client remembers every receipt it is
 * given, and `auditOwnReceipts()` checks each is in a witnessed checkpoint at
 * its entry, and that each shard's log only grew since it last looked.
 */
import { type ChannelAnswer, TerminalChannel, type WebSocketLike } from "./channel.ts";
import { RejectedError, UnavailableError } from "./errors.ts";
import { type AuditReport, auditReceipts, emptyMonitor, type MonitorState } from "./monitor.ts";
import {
  budgetProblem,
  DEFAULT_BUDGET,
  newKeyPair,
  type OfflineBudget,
  type OfflineReceipt,
  type OfflineState,
  signOffline,
} from "./offline.ts";
import { type JsonStorage, MemoryQueue, type QueuedSale, type QueueStorage } from "./queue.ts";
import type { IssuedReceipt, SaleInput } from "./types.ts";

export type { WebSocketLike } from "./channel.ts";
export { RejectedError, UnavailableError } from "./errors.ts";
export type { AuditEvent, AuditReport, MonitorState } from "./monitor.ts";
export {
  type OfflineBudget,
  OfflineBudgetError,
  type OfflineReceipt,
  type OfflineState,
  type TerminalIdentity,
} from "./offline.ts";
export {
  FileQueue,
  FileStorage,
  type JsonStorage,
  MemoryQueue,
  MemoryStorage,
  type QueuedSale,
  type QueueStorage,
} from "./queue.ts";
export type { IssuedReceipt, SaleInput } from "./types.ts";

export type ClientOptions = {
  /** The gateway's origin, e.g. https://receipts.example.com */
  baseUrl: string;
  /** The terminal's token (tpt_…). */
  token: string;
  queue?: QueueStorage;
  /** The terminal's offline state (`enroll` writes it); without it, sales that cannot be sent are queued. */
  offline?: JsonStorage<OfflineState>;
  /** Default 72 hours and 500 receipts. */
  offlineBudget?: OfflineBudget;
  /** The clock offline receipts are signed by (tests move it). */
  now?: () => number;
  /** Attempts per sale before UnavailableError (default 6). */
  attempts?: number;
  /** First backoff and its cap, in ms (default 250 and 8,000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Per request (default 10,000 ms). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Receipts over the terminal channel (a WebSocket to the shard), falling back
   * to HTTP by itself: `true` (default where a WebSocket that takes headers
   * exists, as Node's does) or `false` for HTTP only.
   */
  channel?: boolean;
  /** The WebSocket constructor for the channel (default: the global one). */
  WebSocket?: WebSocketLike;
  /** Where the client keeps the receipts it watches and the checkpoints it verified; enables `auditOwnReceipts`. */
  monitor?: JsonStorage<MonitorState>;
  /** The keys to trust (what GET /v1/log/witnesses answers, pinned apart from the gateway); default: the gateway's on the first audit. */
  pins?: MonitorState["pins"];
  /** A receipt still in no witnessed checkpoint this long after it was received is an `unwitnessed` event (default 1 hour). */
  unwitnessedAfterMs?: number;
};

export type FlushResult = {
  sent: IssuedReceipt[];
  rejected: { key: string; error: RejectedError }[];
  left: number;
  /** Offline receipts registered by this flush, in terminalSeq order, each with its receipt (and code). */
  registered: { terminalSeq: number; receipt: IssuedReceipt }[];
};

/** What `sell` gives the till to print: the receipt, or the offline receipt's QR. */
export type Sold = { receipt: IssuedReceipt } | { offline: OfflineReceipt };

type BatchAnswer = { results: { status: number; receipt?: IssuedReceipt; error?: ErrorBody["error"] }[] };

type ErrorBody = {
  error?: { code?: string; message?: string; requestId?: string; details?: { path: string; message: string }[] };
};

export class TerminalClient {
  private readonly o: Required<
    Omit<ClientOptions, "queue" | "offline" | "channel" | "WebSocket" | "monitor" | "pins" | "unwitnessedAfterMs">
  > & {
    queue: QueueStorage;
    offline: JsonStorage<OfflineState> | null;
    monitor: JsonStorage<MonitorState> | null;
  };
  /** Serializes updates of the monitor's storage (sales finish concurrently). */
  private monitorTurn: Promise<unknown> = Promise.resolve();
  /** The terminal channel, or null (HTTP only). */
  private readonly channel: TerminalChannel | null;

  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
    this.o = {
      attempts: 6,
      backoffMs: 250,
      maxBackoffMs: 8_000,
      timeoutMs: 10_000,
      fetch: globalThis.fetch.bind(globalThis),
      sleep: (ms) => new Promise((ok) => setTimeout(ok, ms)),
      queue: new MemoryQueue(),
      offlineBudget: DEFAULT_BUDGET,
      now: Date.now,
      ...options,
      offline: options.offline ?? null,
      monitor: options.monitor ?? null,
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
    };
    // Node's global WebSocket takes headers (the DOM's type does not say so); a browser's does not, so pass one there.
    const ws = options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketLike }).WebSocket;
    this.channel = options.channel !== false && ws ? new TerminalChannel(this.o.baseUrl, this.o.token, ws) : null;
  }

  /** Closes the terminal channel's socket (a process that ends should; a new request reopens it). */
  close(): void {
    this.channel?.close();
  }

  /**
   * Registers a new terminal with its own key (contract v1.2): the tenant's
   * key is needed once, at the till's installation. The key pair is made
   * here; the private key stays in `storage`, with the token and the
   * certificate. Returns a client ready to sell.
   */
  static async enroll(opts: {
    baseUrl: string;
    tenantKey: string;
    tenantId: string;
    storeId: string;
    terminalId: string;
    label?: string;
    storage: JsonStorage<OfflineState>;
    client?: Omit<ClientOptions, "baseUrl" | "token" | "offline">;
  }): Promise<TerminalClient> {
    const baseUrl = opts.baseUrl.replace(/\/+$/, "");
    const keys = await newKeyPair();
    const doFetch = opts.client?.fetch ?? globalThis.fetch.bind(globalThis);
    const res = await doFetch(`${baseUrl}/v1/tenants/${opts.tenantId}/stores/${opts.storeId}/terminals`, {
      method: "POST",
      headers: { authorization: `Bearer ${opts.tenantKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        id: opts.terminalId,
        publicKey: keys.publicKey,
        ...(opts.label ? { label: opts.label } : {}),
      }),
    });
    const body = (await res.json().catch(() => ({}))) as ErrorBody & {
      token?: string;
      certificate?: string;
      notAfter?: string;
    };
    if (res.status !== 201 || !body.token || !body.certificate || !body.notAfter) {
      throw new RejectedError(res.status, body.error ?? { message: "The gateway did not certify the terminal's key." });
    }
    const { tenantId, storeId, terminalId } = opts;
    const identity = {
      tenantId,
      storeId,
      terminalId,
      token: body.token,
      ...keys,
      certificate: body.certificate,
      notAfter: body.notAfter,
    };
    await opts.storage.save({ identity, nextSeq: 1, pending: [], registered: [] });
    return new TerminalClient({ ...opts.client, baseUrl, token: body.token, offline: opts.storage });
  }

  /**
   * Sells: the receipt from the gateway, or, when it cannot be reached and
   * this terminal has a key, an offline receipt signed here with the QR to
   * print. Past the offline budget it throws OfflineBudgetError (saying why)
   * and sells nothing; a sale the gateway refuses throws RejectedError.
   */
  async sell(sale: SaleInput): Promise<Sold> {
    const state = await this.o.offline?.load();
    if (!state) {
      const r = await this.issueOrQueue(sale);
      if ("receipt" in r) return r;
      throw new Error("this terminal has no key for offline receipts; the sale was queued (see issueOrQueue)");
    }
    // Offline receipts wait in order: while some do, new sales join them rather than overtake.
    if (!state.pending.length) {
      try {
        return { receipt: await this.issueReceipt(sale) };
      } catch (e) {
        if (!(e instanceof UnavailableError)) throw e;
      }
    }
    return { offline: await this.signOffline(state, sale) };
  }

  private async signOffline(state: OfflineState, sale: SaleInput): Promise<OfflineReceipt> {
    const now = this.o.now();
    const refused = budgetProblem(state, this.o.offlineBudget, now);
    if (refused) throw refused;
    const seq = state.nextSeq;
    const signed = await signOffline(state.identity, seq, sale, new Date(now).toISOString(), this.o.baseUrl);
    // Saved before the QR is handed out: a restart never reuses or skips a number.
    await this.o.offline?.save({ ...state, nextSeq: seq + 1, pending: [...state.pending, signed] });
    return signed;
  }

  /** Offline receipts waiting for their upload, in terminalSeq order. */
  async offlinePending(): Promise<OfflineReceipt[]> {
    return (await this.o.offline?.load())?.pending ?? [];
  }

  /** Issues one receipt, retrying safely; throws RejectedError (do not retry) or UnavailableError (queue it). */
  async issueReceipt(sale: SaleInput, idempotencyKey: string = crypto.randomUUID()): Promise<IssuedReceipt> {
    return (await this.send<IssuedReceipt>("/v1/receipts", sale, { "idempotency-key": idempotencyKey })).body;
  }

  /**
   * Gives money back (contract v1.2): `refersTo` the original's code, from any
   * store of the tenant, or no code and a `reason`. The same retries as a sale;
   * a 409 (more than is left, not refundable) is a RejectedError with its code.
   */
  async refund(refund: Omit<SaleInput, "kind">, idempotencyKey: string = crypto.randomUUID()): Promise<IssuedReceipt> {
    return this.issueReceipt({ ...refund, kind: "refund" }, idempotencyKey);
  }

  /**
   * Cancels a sale of this store rung up by mistake, within the gateway's void
   * window: the void carries the sale's currency, items, total and payments unchanged.
   */
  async void(
    sale: { code: string } & Pick<SaleInput, "currency" | "items" | "total" | "payments">,
    opts: { issuedAt?: string; idempotencyKey?: string } = {},
  ): Promise<IssuedReceipt> {
    const { code, currency, items, total, payments } = sale;
    const body: SaleInput = {
      kind: "void",
      refersTo: code,
      issuedAt: opts.issuedAt ?? new Date().toISOString(),
      currency,
      items,
      total,
      payments,
    };
    return this.issueReceipt(body, opts.idempotencyKey);
  }

  /** Issues the receipt now, or queues it when the gateway cannot be reached (a RejectedError still throws). */
  async issueOrQueue(sale: SaleInput): Promise<{ receipt: IssuedReceipt } | { queued: QueuedSale }> {
    const idempotencyKey = crypto.randomUUID();
    try {
      return { receipt: await this.issueReceipt(sale, idempotencyKey) };
    } catch (e) {
      if (!(e instanceof UnavailableError)) throw e;
      const queued: QueuedSale = { idempotencyKey, sale, queuedAt: new Date().toISOString() };
      await this.o.queue.save([...((await this.o.queue.load()) ?? []), queued]);
      return { queued };
    }
  }

  /** Sales waiting in the offline queue. */
  async pending(): Promise<QueuedSale[]> {
    return (await this.o.queue.load()) ?? [];
  }

  /**
   * Sends the queue in order, 100 at a time, each with the key it was queued
   * with. Sent and refused entries leave the queue (refused ones are returned
   * for the operator to see); on UnavailableError the rest stays, in order.
   */
  async flush(): Promise<FlushResult> {
    const result: FlushResult = { sent: [], rejected: [], left: 0, registered: [] };
    if (!(await this.flushOffline(result))) return result;
    let queue = (await this.o.queue.load()) ?? [];
    while (queue.length) {
      const chunk = queue.slice(0, 100);
      const { body } = await this.send<BatchAnswer>(
        "/v1/receipts/batch",
        { receipts: chunk.map((q) => ({ idempotencyKey: q.idempotencyKey, ...q.sale })) },
        {},
      );
      const retry: QueuedSale[] = [];
      chunk.forEach((q, i) => {
        const r = body.results[i];
        if (r && (r.status === 201 || r.status === 200) && r.receipt) result.sent.push(r.receipt);
        else if (r && r.status !== 429 && r.status !== 503) {
          result.rejected.push({ key: q.idempotencyKey, error: new RejectedError(r.status, r.error ?? {}) });
        } else retry.push(q);
      });
      queue = [...retry, ...queue.slice(chunk.length)];
      await this.o.queue.save(queue);
      if (retry.length) {
        result.left = queue.length;
        return result; // the gateway is busy: keep order, try again later
      }
    }
    return result;
  }

  /**
   * Registers the offline receipts in terminalSeq order, 100 at a time,
   * telling the gateway how many are left (Tillproof-Offline-Backlog). False
   * when the gateway is busy and some are left for a later flush.
   */
  private async flushOffline(result: FlushResult): Promise<boolean> {
    let state = await this.o.offline?.load();
    while (state?.pending.length) {
      const chunk = state.pending.slice(0, 100);
      const rest = state.pending.slice(chunk.length);
      const backlog = rest[0] ? `${rest.length}; since=${rest[0].signedAt}` : "0";
      const { body } = await this.send<BatchAnswer>(
        "/v1/receipts/batch",
        {
          receipts: chunk.map((o) => ({
            ...o.sale,
            idempotencyKey: `offline-${o.terminalSeq}`,
            offline: { terminalSeq: o.terminalSeq, signedAt: o.signedAt, signature: o.signature },
          })),
        },
        { "tillproof-offline-backlog": backlog },
      );
      const retry: OfflineReceipt[] = [];
      const registered: OfflineState["registered"] = [];
      chunk.forEach((o, i) => {
        const r = body.results[i];
        if (r && (r.status === 201 || r.status === 200) && r.receipt) {
          result.registered.push({ terminalSeq: o.terminalSeq, receipt: r.receipt });
          registered.push({ terminalSeq: o.terminalSeq, code: r.receipt.code });
        } else if (r && r.status !== 429 && r.status !== 503) {
          result.rejected.push({ key: `offline-${o.terminalSeq}`, error: new RejectedError(r.status, r.error ?? {}) });
        } else retry.push(o);
      });
      state = {
        ...state,
        pending: [...retry, ...rest],
        registered: [...state.registered, ...registered].slice(-1_000),
      };
      await this.o.offline?.save(state);
      if (retry.length) {
        result.left = state.pending.length;
        return false; // busy: keep the order, try again later
      }
    }
    return true;
  }

  private async send<T>(
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<{ status: number; body: T }> {
    const payload = JSON.stringify(body);
    let lastStatus: number | null = null;
    let lastError: unknown = null;
    for (let attempt = 0; attempt < this.o.attempts; attempt++) {
      let wait = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      try {
        // The channel first; if it has no answer (closed, not reachable), the same request over HTTP.
        const res =
          (await this.channel?.request(path, body, headers, this.o.timeoutMs)) ??
          (await this.overHttp(path, payload, headers));
        const json = res.body as T & ErrorBody;
        if (res.status >= 200 && res.status < 300) {
          await this.watch(json);
          return { status: res.status, body: json };
        }
        lastStatus = res.status;
        if (res.status !== 429 && res.status < 500) throw new RejectedError(res.status, json.error ?? {});
        const after = res.retryAfter ?? 0;
        if (Number.isFinite(after) && after > 0) wait = Math.min(this.o.maxBackoffMs, after * 1000);
      } catch (e) {
        if (e instanceof RejectedError) throw e;
        lastError = e;
      }
      if (attempt < this.o.attempts - 1) await this.o.sleep(wait);
    }
    throw new UnavailableError(this.o.attempts, lastStatus, lastError);
  }

  /**
   * Checks that the receipts this terminal was given are in witnessed
   * checkpoints at their entries, and that each shard's log only grew since
   * the last audit. Events are what the POS should raise; a receipt not
   * witnessed yet is looked at again next time.
   */
  async auditOwnReceipts(): Promise<AuditReport> {
    if (!this.o.monitor) throw new Error("auditOwnReceipts needs the `monitor` storage option");
    const monitor = this.o.monitor;
    const before = (await monitor.load()) ?? { ...emptyMonitor(), pins: this.options.pins ?? null };
    const { state, report } = await auditReceipts(before, (path) => this.getPublic(path), {
      now: this.o.now(),
      unwitnessedAfterMs: this.options.unwitnessedAfterMs ?? 3_600_000,
    });
    await this.inMonitorTurn(async () => {
      // Receipts issued while the audit ran are kept too.
      const seen = new Set(before.watching.map((w) => w.code));
      const added = ((await monitor.load())?.watching ?? []).filter((w) => !seen.has(w.code));
      await monitor.save({ ...state, watching: [...state.watching, ...added] });
    });
    return report;
  }

  private inMonitorTurn(work: () => Promise<void>): Promise<void> {
    const turn = this.monitorTurn.then(work);
    this.monitorTurn = turn.catch(() => undefined);
    return turn;
  }

  /** Remembers the receipts in a successful answer (one receipt, or a batch's results) for `auditOwnReceipts`. */
  private async watch(answer: unknown): Promise<void> {
    const monitor = this.o.monitor;
    if (!monitor) return;
    const one = answer as Partial<IssuedReceipt> & { results?: { receipt?: IssuedReceipt }[] };
    const given = (one.results ? one.results.map((r) => r.receipt) : [one]).flatMap((r) =>
      r?.code && r.hash && r.receivedAt ? [{ code: r.code, hash: r.hash, receivedAt: r.receivedAt }] : [],
    );
    if (!given.length) return;
    // The sale is done whatever happens here: monitoring must never fail it.
    await this.inMonitorTurn(async () => {
      const state = (await monitor.load()) ?? { ...emptyMonitor(), pins: this.options.pins ?? null };
      const known = new Set(state.watching.map((w) => w.code));
      await monitor.save({ ...state, watching: [...state.watching, ...given.filter((g) => !known.has(g.code))] });
    }).catch(() => undefined);
  }

  private async getPublic(path: string): Promise<{ status: number; body: unknown }> {
    const res = await this.o.fetch(`${this.o.baseUrl}${path}`, { signal: AbortSignal.timeout(this.o.timeoutMs) });
    const text = await res.text();
    const json = (res.headers.get("content-type") ?? "").includes("json");
    return { status: res.status, body: json ? JSON.parse(text) : text };
  }

  private async overHttp(path: string, payload: string, headers: Record<string, string>): Promise<ChannelAnswer> {
    const res = await this.o.fetch(`${this.o.baseUrl}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.o.token}`, "content-type": "application/json", ...headers },
      body: payload,
      signal: AbortSignal.timeout(this.o.timeoutMs),
    });
    const body = await res.json().catch(() => ({}));
    return { status: res.status, body, retryAfter: Number(res.headers.get("retry-after")) || undefined };
  }
}
