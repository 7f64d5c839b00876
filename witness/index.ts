/**
 * A C2SP tlog-witness as a Worker of its own (witness/wrangler.toml), for a
 * tax authority, a retail association or anyone to deploy. Its URL is its
 * submission prefix:
 *
 *   POST /add-checkpoint            cosign a checkpoint consistent with the last one (tlog-witness)
 *   GET  /checkpoint/<origin>       the latest checkpoint it cosigned for that origin (URL-encoded)
 *   GET  /vkey                      its cosigner verifier key (type 0x04)
 *
 * The Worker routes by origin; the origin's Durable Object decides.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cosignerVkey } from "../tlog/cosignature.ts";
import { checkpointOf, logFor } from "./add-checkpoint.ts";
import { type WitnessEnv, witnessSetup } from "./setup.ts";

export { WitnessedOrigin } from "./origin-object.ts";

/** A checkpoint, 63 proof lines and a few signatures fit well within this. */
const MAX_BODY = 64 * 1024;

const app = new Hono<{ Bindings: WitnessEnv }>();

const plain = (status: number, body: string, contentType = "text/plain; charset=utf-8") =>
  new Response(body.endsWith("\n") ? body : `${body}\n`, { status, headers: { "content-type": contentType } });

app.onError((e) => {
  console.error(JSON.stringify({ msg: "witness error", error: e.message }));
  return plain(503, "the witness is not configured or not available");
});

app.post(
  "/add-checkpoint",
  bodyLimit({ maxSize: MAX_BODY, onError: () => plain(413, "request body too large") }),
  async (c) => {
    const body = await c.req.text();
    const checkpoint = checkpointOf(body);
    if (!checkpoint) return plain(400, "malformed add-checkpoint request");
    const { logs } = await witnessSetup(c.env);
    if (!logFor(logs, checkpoint.origin)) return plain(404, "unknown log origin");
    const origin = c.env.ORIGINS.get(c.env.ORIGINS.idFromName(checkpoint.origin));
    const answer = await origin.add(body);
    return plain(answer.status, answer.body, answer.contentType);
  },
);

app.get("/checkpoint/:origin{.+}", async (c) => {
  let name: string;
  try {
    name = decodeURIComponent(c.req.param("origin"));
  } catch {
    return plain(400, "the origin is not URL-encoded");
  }
  const { logs } = await witnessSetup(c.env);
  if (!logFor(logs, name)) return plain(404, "unknown log origin");
  const note = await c.env.ORIGINS.get(c.env.ORIGINS.idFromName(name)).latest();
  if (!note) return plain(404, "no checkpoint cosigned for this origin");
  c.header("cache-control", "no-cache");
  return c.text(note);
});

app.get("/vkey", async (c) => c.text(`${cosignerVkey((await witnessSetup(c.env)).cosigner)}\n`));

app.notFound(() => plain(404, "not found"));

export default app;
