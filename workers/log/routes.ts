/** The public transparency log (contract: docs/api.md "Transparency log"), as OpenAPI routes. */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { errors, json, security, textResponse } from "../openapi.ts";
import {
  consistencyQuery,
  consistencySchema,
  inclusionQuery,
  inclusionSchema,
  shardParam,
  tileLevel,
  witnessesSchema,
} from "./schemas.ts";

const tags = ["Transparency log"];
const shardPath = z.object({ shard: shardParam.meta({ description: "The shard number", example: "7" }) });
const publicErrors = { 429: "Past PUBLIC_RPS for this address; see Retry-After" } as const;

export const logKeyRoute = createRoute({
  method: "get",
  path: "/v1/log/key",
  operationId: "getLogKey",
  tags,
  summary: "The log's verifier key, in signed-note form",
  security: security.public,
  responses: {
    200: textResponse("<name>+<key id>+<base64 key>"),
    ...errors({ ...publicErrors, 503: "No signing key configured" }),
  },
});

export const witnessesRoute = createRoute({
  method: "get",
  path: "/v1/log/witnesses",
  operationId: "getWitnesses",
  tags,
  summary: "v1.2: the keys to pin: the log's, its witnesses' and the terminal-certificate key",
  security: security.public,
  responses: {
    200: json("The keys and the quorum", witnessesSchema),
    ...errors({ ...publicErrors }),
  },
});

export const checkpointRoute = createRoute({
  method: "get",
  path: "/v1/log/{shard}/checkpoint",
  operationId: "getCheckpoint",
  tags,
  summary: "The shard's latest witnessed C2SP checkpoint: the log's signature and the witnesses' cosignatures",
  security: security.public,
  request: { params: shardPath },
  responses: {
    200: textResponse("The signed note"),
    ...errors({ ...publicErrors, 400: "Not a shard number", 404: "Nothing witnessed yet" }),
  },
});

export const checkpointAtRoute = createRoute({
  method: "get",
  path: "/v1/log/{shard}/checkpoint/{size}",
  operationId: "getCheckpointAt",
  tags,
  summary: "v1.2: a witnessed checkpoint the shard served at exactly that size, if it kept it",
  security: security.public,
  request: {
    params: shardPath.extend({
      size: z.coerce
        .number()
        .int()
        .min(1)
        .max(Number.MAX_SAFE_INTEGER)
        .meta({ description: "The tree size", example: "1024" }),
    }),
  },
  responses: {
    200: textResponse("The signed note with its cosignatures"),
    ...errors({
      ...publicErrors,
      400: "Not a shard number or a size",
      404: "No witnessed checkpoint kept at that size",
    }),
  },
});

export const inclusionRoute = createRoute({
  method: "get",
  path: "/v1/log/{shard}/proof/inclusion",
  operationId: "getInclusionProof",
  tags,
  summary: "RFC 6962 inclusion proof of leaf `index` in the tree of `size`",
  security: security.public,
  request: { params: shardPath, query: inclusionQuery },
  responses: {
    200: json("The audit path, leaf side first", inclusionSchema),
    ...errors({
      ...publicErrors,
      400: "size past the latest checkpoint, index ≥ size, or malformed",
      404: "Nothing signed yet",
    }),
  },
});

export const consistencyRoute = createRoute({
  method: "get",
  path: "/v1/log/{shard}/proof/consistency",
  operationId: "getConsistencyProof",
  tags,
  summary: "RFC 6962 consistency proof between tree sizes `from` and `to`",
  security: security.public,
  request: { params: shardPath, query: consistencyQuery },
  responses: {
    200: json("The consistency proof", consistencySchema),
    ...errors({
      ...publicErrors,
      400: "to past the latest checkpoint, from > to, from = 0, or malformed",
      404: "Nothing signed yet",
    }),
  },
});

export const tileRoute = createRoute({
  method: "get",
  path: "/v1/log/{shard}/tile/{level}/{index}",
  operationId: "getTile",
  tags,
  summary: "A C2SP tlog-tiles hash tile; {index} is the tile path (x001/234, optionally .p/<width>)",
  security: security.public,
  request: {
    params: shardPath.extend({
      level: tileLevel.meta({ description: "Tile level, 0–7", example: "0" }),
      index: z.string().meta({ description: "The tile index path, e.g. x001/234 or 000.p/17", example: "000" }),
    }),
  },
  responses: {
    200: {
      description: "width × 32 bytes of hashes",
      content: { "application/octet-stream": { schema: z.string().meta({ format: "binary" }) } },
    },
    ...errors({ ...publicErrors, 400: "Malformed tile path", 404: "Past the latest checkpoint" }),
  },
});
