/**
 * StoreShard: the Durable Object for one shard of stores. A thin shell: each
 * RPC method hands over to the shard's logic (shard.ts), built once per object
 * over its real storage, queue and tile bucket. It also holds the terminal
 * channel's sockets (Hibernation API); what a message is answered with is the
 * Worker's to say (`answerChannel`, wired by the composition root).
 */
import { DurableObject } from "cloudflare:workers";
import { CHANNEL_SESSION_HEADER, type ChannelSession, CLOSE, channelSessionSchema } from "../core/channel.ts";
import { lazyPools, openPg } from "../db/client.ts";
import { shardHistory } from "../db/receipts.ts";
import { findReceiptRouted } from "../db/routing.ts";
import { describeError } from "../kit/describe-error.ts";
import { consoleLogger } from "../kit/logger.ts";
import { shardConfig } from "./config.ts";
import type { Cut } from "./cuts.ts";
import type { IssueReply, IssueRequest } from "./issuer.ts";
import type { LogView } from "./log.ts";
import { terminalKey } from "./offline.ts";
import type {
  ConfirmCall,
  HoldOutcome,
  LedgerPeer,
  ReserveAnswer,
  ReserveCall,
  ShardDeps,
  ShardEnv,
  ShardStorage,
} from "./ports.ts";
import { Shard, type ShardStatus, type ShardView } from "./shard.ts";
import type { StoreInfo } from "./tables.ts";
import { type HistorySource, upgradeOnStart } from "./upgrade.ts";

/** A shard's history as Postgres holds it (only a shard from before the log reads it, once). */
function historyFromPostgres(env: ShardEnv): HistorySource {
  return async (shard, after, limit) => {
    const pg = openPg(env);
    try {
      return await shardHistory(pg.db, shard, after, limit);
    } finally {
      await pg.end();
    }
  };
}

/** A receipt from Postgres by code (a refund's original the ring no longer holds). */
export function recordFromPostgres(env: ShardEnv): ShardDeps["findRecord"] {
  return async (code) => {
    const pools = lazyPools(env);
    try {
      return (await findReceiptRouted(env, code, (d) => pools.at(d).db))?.record ?? null;
    } finally {
      await pools.end();
    }
  };
}

/** Another shard's ledgers, over RPC. */
export function peerOf(env: ShardEnv): ShardDeps["peer"] {
  const ns = env.SHARDS as DurableObjectNamespace<StoreShard>;
  return (n): LedgerPeer => {
    const stub = () => ns.get(ns.idFromName(`shard-${n}`));
    return {
      reserve: (call) => stub().reserve(call),
      confirm: async (call) => void (await stub().confirm(call)),
      release: async (call) => void (await stub().release(call)),
      holdOutcome: (hold) => stub().holdOutcome(hold),
    };
  };
}

/** How soon a shard that could not start tries again. */
const START_RETRY_MS = 30_000;

/** What a channel message is answered with, and whether the socket is closed after it. */
export type ChannelAnswer = { reply: string; close?: { code: number; reason: string } };

/** The session a socket was accepted with (kept across hibernation), or null for a socket of no session. */
function sessionOf(ws: WebSocket): ChannelSession | null {
  const parsed = channelSessionSchema.safeParse(ws.deserializeAttachment());
  return parsed.success ? parsed.data : null;
}

export class StoreShard<E extends ShardEnv = ShardEnv> extends DurableObject<E> {
  /** Built once the upgrade step has run (in blockConcurrencyWhile: no call reaches it before). */
  private built: Shard | null = null;
  /** Why the shard could not start (its history did not check out, Postgres was away): every call fails with it. */
  private startFailure: Error | null = null;
  private readonly boot: () => Promise<void>;
  /** The shard's ports of time and logging: the real ones here, the tests' own in Node. */
  private readonly clock = Date.now;
  private readonly logger = consoleLogger();

  /** Messages each socket has in flight (backpressure; a socket with any in flight keeps the object awake). */
  private readonly inFlight = new WeakMap<WebSocket, number>();

  constructor(ctx: DurableObjectState, env: E) {
    super(ctx, env);
    const queue = this.queueFor(ctx, env);
    this.boot = async () => {
      try {
        await upgradeOnStart(ctx.storage, historyFromPostgres(env), this.logger, {
          codeKey: shardConfig(env).codeKey,
          now: this.clock(),
        });
        this.built = new Shard({
          storage: this.storageFor(ctx),
          queue,
          tiles: env.LOG_TILES,
          witnessFetch: (url, init) => fetch(url, init),
          config: shardConfig(env),
          clock: this.clock,
          logger: this.logger,
          peer: peerOf(env),
          findRecord: recordFromPostgres(env),
        });
        this.startFailure = null;
        await this.built.start();
      } catch (e) {
        // Started, but not serving: each call fails with the reason (terminals get 503) and the alarm tries again.
        this.startFailure = e instanceof Error ? e : new Error(String(e));
        this.logger.error({ msg: "shard could not start", error: describeError(e) });
        await ctx.storage.setAlarm(this.clock() + START_RETRY_MS);
      }
    };
    ctx.blockConcurrencyWhile(this.boot);
  }

  /** The shard's logic; throws why it could not start, if it could not. */
  protected get shard(): Shard {
    if (this.built) return this.built;
    throw this.startFailure ?? new Error("the shard is starting");
  }

  /** The storage seam: the bench wraps it to count the rows each call writes. */
  protected storageFor(ctx: DurableObjectState): ShardStorage {
    return ctx.storage;
  }

  /** The queue seam: `npm run chaos` wraps it with its faults (scripts/lib/chaos/entry.ts). */
  protected queueFor(_ctx: DurableObjectState, env: ShardEnv): ShardDeps["queue"] {
    return env.RECEIPTS_QUEUE;
  }

  issue(req: IssueRequest): Promise<IssueReply> {
    return this.shard.issue(req);
  }

  /**
   * The terminal channel's upgrade, from the Worker (workers/ingest/channel-connect.ts):
   * the token's hash is checked here, then the socket is accepted for
   * hibernation, tagged with it. One socket per terminal: a newer one closes the older.
   */
  override async fetch(request: Request): Promise<Response> {
    let session: ChannelSession | null = null;
    try {
      session = channelSessionSchema.parse(JSON.parse(request.headers.get(CHANNEL_SESSION_HEADER) ?? "null"));
    } catch {
      session = null;
    }
    if (!session || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("not a channel upgrade", { status: 400 });
    }
    const who = this.shard.issuer.authenticate(session.tokenHash);
    if ("kind" in who) return Response.json({ refused: who.kind }, { status: 401 });
    for (const old of this.ctx.getWebSockets(session.tokenHash)) {
      old.close(CLOSE.replaced, "replaced by a newer connection");
    }
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [session.tokenHash]);
    pair[1].serializeAttachment(session);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** A message on a terminal's socket: answered once its receipts are durable, as HTTP would. */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const session = sessionOf(ws);
    if (!session) return ws.close(1011, "no session");
    const inFlight = (this.inFlight.get(ws) ?? 0) + 1;
    this.inFlight.set(ws, inFlight);
    let answer: ChannelAnswer;
    try {
      answer = await this.answerChannel(session, message, inFlight);
    } finally {
      this.inFlight.set(ws, (this.inFlight.get(ws) ?? 1) - 1);
    }
    try {
      ws.send(answer.reply);
      if (answer.close) ws.close(answer.close.code, answer.close.reason);
    } catch {
      // The socket closed meanwhile: the terminal retries with the same key and hears the same answer.
    }
  }

  override webSocketClose(ws: WebSocket, code: number): void {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // already closed
    }
  }

  /** The answer to a channel message; the composition root wires the Worker's (workers/index.ts). */
  protected answerChannel(
    _session: ChannelSession,
    _message: string | ArrayBuffer,
    _inFlight: number,
  ): Promise<ChannelAnswer> {
    return Promise.resolve({ reply: "", close: { code: 1011, reason: "the channel is not wired" } });
  }

  /** Closes the sockets whose terminal is no longer good here (revoked, or its tenant disabled). */
  private closeRefusedSockets(): void {
    for (const ws of this.ctx.getWebSockets()) {
      const session = sessionOf(ws);
      if (!session || "kind" in this.shard.issuer.authenticate(session.tokenHash)) {
        ws.close(CLOSE.unauthorized, "this terminal's token is no longer accepted");
      }
    }
  }

  /** The refund saga's steps on this shard's ledgers (durable-objects/ledgers.ts), and its question back. */
  reserve(call: ReserveCall): Promise<ReserveAnswer> {
    return this.shard.reserve(call);
  }

  confirm(call: ConfirmCall): void {
    this.shard.confirm(call);
  }

  release(call: { counter: number; hold: string; attempt?: number }): void {
    this.shard.release(call);
  }

  holdOutcome(hold: string): HoldOutcome {
    return this.shard.holdOutcome(hold);
  }

  /** Whether a terminal token is good here (asked only when its request is refused for its body: 401 comes first). */
  authenticate(tokenHash: string): "ok" | "unknown_terminal" | "revoked" | "tenant_disabled" {
    const who = this.shard.issuer.authenticate(tokenHash);
    return "kind" in who ? who.kind : "ok";
  }

  /** `tenantDisabled`: Postgres says the tenant is disabled (read after the write), so this shard must refuse it too. */
  upsertStore(shard: number, store: StoreInfo, tenantDisabled = false): void {
    this.shard.upsertStore(shard, store);
    if (tenantDisabled) this.shard.admin.setTenantDisabled(store.tenantId, true);
  }

  registerTerminal(
    shard: number,
    store: StoreInfo,
    t: { terminalId: string; tokenHash: string; publicKey?: string | null },
    tenantDisabled = false,
  ): void {
    this.shard.registerTerminal(shard, store, t);
    if (tenantDisabled) this.shard.admin.setTenantDisabled(store.tenantId, true);
  }

  /** The operator disabled or re-enabled a tenant: its terminals on this shard follow at once. */
  setTenantDisabled(tenantId: string, disabled: boolean): void {
    this.shard.admin.setTenantDisabled(tenantId, disabled);
    if (disabled) this.closeRefusedSockets();
  }

  revokeTerminal(t: { tenantId: string; storeId: string; terminalId: string }): boolean {
    const revoked = this.shard.admin.revokeTerminal(t, this.clock());
    this.closeRefusedSockets();
    return revoked;
  }

  /** The log's size at a lottery draw's close; registers a close still ahead (durable-objects/cuts.ts). */
  lotteryCut(shard: number, closesAt: number): Cut & { heldFrom: number | null } {
    return this.shard.lotteryCut(shard, closesAt);
  }

  /** A held receipt (if still held) and the log's head, for verify and the log API. */
  view(counter: number): ShardView {
    return this.shard.view(counter);
  }

  /** The log's head: size, latest signed and witnessed checkpoints, unfilled tiles. */
  logView(): LogView {
    return this.shard.logView();
  }

  /** The witnessed checkpoint kept at exactly `size`, or null. */
  witnessedCheckpoint(size: number): string | null {
    return this.shard.witnessing.at(size);
  }

  /** A full log tile that has not reached R2 yet. */
  pendingTile(level: number, index: number): Uint8Array | null {
    return this.shard.log.pendingTile(level, index);
  }

  /** Records still held, for entries that travelled by reference (too large for a message). */
  records(counters: number[]): { counter: number; record: string }[] {
    return this.shard.ring.records(counters);
  }

  markPersisted(counters: number[]): number {
    return this.shard.markPersisted(counters);
  }

  stats(): ShardStatus {
    return this.shard.stats();
  }

  /** GET /v1/verify/offline: the code a terminal's offline receipt got, or null (not registered). */
  offlineCode(t: { tenantId: string; storeId: string; terminalId: string; terminalSeq: number }): string | null {
    return this.shard.offlineCode(terminalKey(t), t.terminalSeq);
  }

  override alarm(): Promise<void> {
    if (!this.built) return this.boot();
    return this.built.alarm();
  }
}
