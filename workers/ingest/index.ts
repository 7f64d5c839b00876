/**
 * Ingest over HTTP: terminals submit sales. The Worker does everything
 * stateless (authentication format, validation, arithmetic, card check, body
 * hash; issuing.ts) so the shard's serialized step is only: authenticate,
 * dedupe, number, hash, write. The terminal channel (channel.ts) answers the
 * same way from inside the shard.
 */

import { checkReceipt } from "../../core/receipt.ts";
import { type Ctx, pgAt, publicBaseUrl } from "../http.ts";
import { router } from "../openapi.ts";
import { callShard, shard } from "../shards.ts";
import { backlogOf } from "./backlog.ts";
import { channelRoute, connectChannel } from "./channel-connect.ts";
import { type IssueVia, issueBatch, issueOne } from "./issuing.ts";
import { issueBatchRoute, issueReceiptRoute } from "./routes.ts";

export const ingest = router();

/** Issuing over HTTP: the terminal's shard over RPC (a failed call is a 503 to retry with the same key). */
function viaHttp(c: Ctx): IssueVia {
  const creds = c.get("terminal");
  if (!creds) throw new Error("terminalAuth did not run");
  return {
    env: c.env,
    baseUrl: publicBaseUrl(c),
    origin: new URL(c.req.url).origin,
    backlog: backlogOf(c.req.header("tillproof-offline-backlog")),
    issue: (entries, backlog) =>
      callShard(creds.shard, () =>
        shard(c.env, creds.shard).issue({ ...creds, entries, ...(backlog ? { backlog } : {}) }),
      ),
    pg: (database) => pgAt(c, database),
  };
}

ingest.openapi(issueReceiptRoute, async (c) => {
  const key = c.req.valid("header")["idempotency-key"];
  // The raw body is hashed for idempotency (the validator kept it parsed), the validated one issued.
  const raw = (await c.req.json()) as Record<string, unknown>;
  const receipt = checkReceipt(c.req.valid("json"), Date.now());
  const { status, body } = await issueOne(viaHttp(c), key, raw, receipt);
  return c.json(body, status);
});

ingest.openapi(issueBatchRoute, async (c) => {
  const { receipts } = c.req.valid("json");
  return c.json(await issueBatch(viaHttp(c), receipts, Date.now()), 200);
});

ingest.openapi(channelRoute, connectChannel);
