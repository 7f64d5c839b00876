/**
 * The public transparency log (contract: "Transparency log"): the verifier
 * key, each shard's latest signed checkpoint, inclusion and consistency proofs
 * up to that checkpoint, and C2SP tlog-tiles so standard clients can read it.
 * Only hashes are served, never receipt contents.
 */
import { ApiError, notFound } from "../../api/errors.ts";
import { config } from "../../core/config.ts";
import type { LogView } from "../../durable-objects/log.ts";
import { describeError } from "../../kit/describe-error.ts";
import { verifierKeyOf } from "../../tlog/note.ts";
import { consistencyProof, hexList, inclusionProof } from "../../tlog/proofs.ts";
import { primarySigner, witnessPolicyFor } from "../../tlog/signers.ts";
import { packHashes, parseTilePath, TILE_WIDTH, tileWidth } from "../../tlog/tiles.ts";
import type { WitnessPolicy } from "../../tlog/witness-protocol.ts";
import { type Ctx, param } from "../http.ts";
import { router } from "../openapi.ts";
import { logger } from "../request-context.ts";
import { callShard, shard, shardCount } from "../shards.ts";
import { certKeys } from "../shared/cert-keys.ts";
import { storedFullTile, tileReader } from "../shared/tiles.ts";
import {
  checkpointAtRoute,
  checkpointRoute,
  consistencyRoute,
  inclusionRoute,
  logKeyRoute,
  tileRoute,
  witnessesRoute,
} from "./routes.ts";
import { shardParam, tileLevel } from "./schemas.ts";

export const log = router();

const badRange = (message: string) => new ApiError(400, "invalid_range", message);

/** A shard number from the path; shards past SHARD_COUNT have no log (and are not woken to say so). */
function shardOf(c: Ctx): number {
  const n = param(c, "shard", shardParam);
  if (n >= shardCount(c.env)) throw notFound("Checkpoint");
  return n;
}

/** The shard's log head; 404 when it has signed nothing yet. */
async function signedView(c: Ctx): Promise<{ n: number; view: LogView; signed: number }> {
  const n = shardOf(c);
  const view = await callShard(n, () => shard(c.env, n).logView());
  if (!view.checkpoint) throw notFound("Checkpoint");
  return { n, view, signed: view.checkpoint.size };
}

/** WITNESSES and WITNESS_QUORUM; null (logged) when they do not parse, which /healthz reports too. */
async function policyOf(c: Ctx): Promise<WitnessPolicy | null> {
  const { WITNESSES, WITNESS_QUORUM } = config(c.env);
  return witnessPolicyFor(WITNESSES, WITNESS_QUORUM).catch((e: Error) => {
    logger.error({ msg: "WITNESSES is invalid", error: describeError(e) });
    return null;
  });
}

log.openapi(logKeyRoute, async (c) => {
  const signer = await primarySigner(c.env.LOG_SIGNING_KEY).catch((e: Error) => {
    logger.error({ msg: "LOG_SIGNING_KEY is invalid", error: describeError(e) });
    return null;
  });
  if (!signer) throw new ApiError(503, "unavailable", "The log's signing key is not configured.", { retryAfter: 60 });
  c.header("Cache-Control", "public, max-age=300");
  return c.text(`${verifierKeyOf(signer)}\n`, 200);
});

/** What a verifier pins: the log's key, its witnesses' and the quorum, and the terminal-certificate key. */
log.openapi(witnessesRoute, async (c) => {
  const [signer, keys, policy] = await Promise.all([
    primarySigner(c.env.LOG_SIGNING_KEY).catch(() => null),
    certKeys(c.env).catch(() => null),
    policyOf(c),
  ]);
  if (!policy) throw new ApiError(503, "unavailable", "The witness configuration is invalid.", { retryAfter: 60 });
  c.header("Cache-Control", "public, max-age=300");
  return c.json(
    {
      quorum: policy.quorum,
      witnesses: policy.witnesses.map((w) => ({ name: w.name, vkey: w.vkey })),
      log: { origin: config(c.env).LOG_ORIGIN, vkey: signer ? verifierKeyOf(signer) : null },
      terminalCertKey: keys?.vkey ?? null,
      retiredTerminalCertKeys: keys?.retired ?? [],
    },
    200,
  );
});

/** The latest checkpoint the witness quorum cosigned (with every cosignature); never one it did not. */
log.openapi(checkpointRoute, async (c) => {
  const { view } = await signedView(c);
  if (!view.witnessed) throw notFound("Checkpoint");
  c.header("Cache-Control", "no-cache");
  return c.text(view.witnessed.note, 200);
});

log.openapi(checkpointAtRoute, async (c) => {
  const n = shardOf(c);
  const { size } = c.req.valid("param");
  const note = await callShard(n, () => shard(c.env, n).witnessedCheckpoint(size));
  if (!note) throw notFound("Checkpoint");
  c.header("Cache-Control", "public, max-age=31536000, immutable");
  return c.text(note, 200);
});

log.openapi(inclusionRoute, async (c) => {
  const { index, size } = c.req.valid("query");
  const { n, view, signed } = await signedView(c);
  if (size > signed) throw badRange(`size is past the latest signed checkpoint (${signed}).`);
  if (index >= size) throw badRange("index must be below size.");
  const inclusion = hexList(await inclusionProof(index, size, tileReader(c.env, n, view)));
  return c.json({ index, size, inclusion }, 200);
});

log.openapi(consistencyRoute, async (c) => {
  const { from, to } = c.req.valid("query");
  const { n, view, signed } = await signedView(c);
  if (from === 0) throw badRange("from must be at least 1.");
  if (from > to) throw badRange("from must not be past to.");
  if (to > signed) throw badRange(`to is past the latest signed checkpoint (${signed}).`);
  const consistency = from === to ? [] : hexList(await consistencyProof(from, to, tileReader(c.env, n, view)));
  return c.json({ from, to, consistency }, 200);
});

/**
 * C2SP tlog-tiles: /tile/<L>/<N>[.p/<W>]. Partial tiles up to the latest
 * signed checkpoint; a full tile as soon as R2 has it (immutable, and signed
 * within CHECKPOINT_MS of the receipts it holds). Documented by tileRoute; served
 * by a wildcard, since the tile path has slashes in it.
 */
log.openAPIRegistry.registerPath(tileRoute);
log.get("/v1/log/:shard/tile/:level/*", async (c) => {
  const level = param(c, "level", tileLevel);
  const rest = c.req.path.split(`/tile/${c.req.param("level")}/`)[1] ?? "";
  const tile = parseTilePath(rest);
  if (!tile) throw new ApiError(400, "invalid_tile", "Not a tile path: <N> as x001/234, optionally .p/<width>.");
  c.header("content-type", "application/octet-stream");
  // A full tile is immutable: straight from R2, without waking the shard (anonymous reads stay off it).
  if (tile.width === TILE_WIDTH) {
    const stored = await storedFullTile(c.env, shardOf(c), level, tile.index);
    if (stored) {
      c.header("Cache-Control", "public, max-age=31536000, immutable");
      return c.body(packHashes(stored).buffer as ArrayBuffer);
    }
  }
  const { n, view, signed } = await signedView(c);
  if (tile.width > tileWidth(level, tile.index, signed)) throw notFound("Tile");
  const hashes = await tileReader(c.env, n, view)(level, tile.index, tile.width);
  c.header("Cache-Control", tile.width === TILE_WIDTH ? "public, max-age=31536000, immutable" : "public, max-age=60");
  return c.body(packHashes(hashes).buffer as ArrayBuffer);
});
