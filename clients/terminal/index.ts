/**
 * The terminal client: issues receipts the way the gateway expects a terminal
 * to. Every sale gets an Idempotency-Key once and keeps it through every
 * retry, so a lost reply never issues twice; 429/503 wait for Retry-After,
 * failed connections back off (doubling, capped, jittered). A sale that
 * cannot be sent goes to an offline queue (pluggable storage, a file on
 * Node) and `flush()` sends the queue in order through /v1/receipts/batch.
 */
import { RejectedError, UnavailableError } from "./errors.ts";
import { MemoryQueue, type QueuedSale, type QueueStorage } from "./queue.ts";
import type { IssuedReceipt, SaleInput } from "./types.ts";

export { RejectedError, UnavailableError } from "./errors.ts";
export { FileQueue, MemoryQueue, type QueuedSale, type QueueStorage } from "./queue.ts";
export type { IssuedReceipt, SaleInput } from "./types.ts";

export type ClientOptions = {
  /** The gateway's origin, e.g. https://receipts.example.com */
  baseUrl: string;
  /** The terminal's token (tpt_…). */
  token: string;
  queue?: QueueStorage;
  /** Attempts per sale before UnavailableError (default 6). */
  attempts?: number;
  /** First backoff and its cap, in ms (default 250 and 8,000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Per request (default 10,000 ms). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
};

export type FlushResult = { sent: IssuedReceipt[]; rejected: { key: string; error: RejectedError }[]; left: number };

type ErrorBody = {
  error?: { code?: string; message?: string; requestId?: string; details?: { path: string; message: string }[] };
};

export class TerminalClient {
  private readonly o: Required<Omit<ClientOptions, "queue">> & { queue: QueueStorage };

  constructor(options: ClientOptions) {
    this.o = {
      attempts: 6,
      backoffMs: 250,
      maxBackoffMs: 8_000,
      timeoutMs: 10_000,
      fetch: globalThis.fetch.bind(globalThis),
      sleep: (ms) => new Promise((ok) => setTimeout(ok, ms)),
      queue: new MemoryQueue(),
      ...options,
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
    };
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
      await this.o.queue.save([...(await this.o.queue.load()), queued]);
      return { queued };
    }
  }

  /** Sales waiting in the offline queue. */
  async pending(): Promise<QueuedSale[]> {
    return this.o.queue.load();
  }

  /**
   * Sends the queue in order, 100 at a time, each with the key it was queued
   * with. Sent and refused entries leave the queue (refused ones are returned
   * for the operator to see); on UnavailableError the rest stays, in order.
   */
  async flush(): Promise<FlushResult> {
    const result: FlushResult = { sent: [], rejected: [], left: 0 };
    let queue = await this.o.queue.load();
    while (queue.length) {
      const chunk = queue.slice(0, 100);
      const { body } = await this.send<{
        results: { status: number; receipt?: IssuedReceipt; error?: ErrorBody["error"] }[];
      }>("/v1/receipts/batch", { receipts: chunk.map((q) => ({ idempotencyKey: q.idempotencyKey, ...q.sale })) }, {});
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
        const res = await this.o.fetch(`${this.o.baseUrl}${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${this.o.token}`, "content-type": "application/json", ...headers },
          body: payload,
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
        const json = (await res.json().catch(() => ({}))) as T & ErrorBody;
        if (res.ok) return { status: res.status, body: json };
        lastStatus = res.status;
        if (res.status !== 429 && res.status < 500) throw new RejectedError(res.status, json.error ?? {});
        const after = Number(res.headers.get("retry-after"));
        if (Number.isFinite(after) && after > 0) wait = Math.min(this.o.maxBackoffMs, after * 1000);
      } catch (e) {
        if (e instanceof RejectedError) throw e;
        lastError = e;
      }
      if (attempt < this.o.attempts - 1) await this.o.sleep(wait);
    }
    throw new UnavailableError(this.o.attempts, lastStatus, lastError);
  }
}
