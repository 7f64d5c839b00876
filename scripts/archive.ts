/**
 * `npm run archive -- --day 2026-11-30`: archives one day by hand (docs/archive.md),
 * through the operator route of a running stack (`npm run dev` by default), calling
 * again while the day is still being written. Idempotent: a finished day reports
 * `dropped` again. Exits 1 when the day fails its checks (it then stays in Postgres).
 *
 *   --url    the gateway (default http://127.0.0.1:8787, or TILLPROOF_URL)
 *   token:   OPERATOR_TOKEN (default: npm run dev's)
 */
import { parseArgs } from "node:util";
import { apiCall } from "./lib/api.ts";

const { values: args } = parseArgs({
  options: {
    day: { type: "string" },
    url: { type: "string", default: process.env.TILLPROOF_URL ?? "http://127.0.0.1:8787" },
  },
});

export async function archiveByHand(base: string, token: string, day: string): Promise<Record<string, unknown>> {
  for (;;) {
    const { status, body } = await apiCall(base, "POST", `/v1/ops/archive/${encodeURIComponent(day)}`, token);
    if (status !== 200 || !body) throw new Error(`archive ${day}: ${status} ${JSON.stringify(body)}`);
    console.log(JSON.stringify(body));
    if (body.state !== "writing") return body;
  }
}

if (import.meta.main) {
  if (!args.day) {
    console.error("usage: npm run archive -- --day YYYY-MM-DD [--url http://127.0.0.1:8787]");
    process.exit(2);
  }
  const token = process.env.OPERATOR_TOKEN ?? "dev-operator-token";
  archiveByHand(args.url, token, args.day).then(
    (r) => process.exit(r.state === "failed" ? 1 : 0),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
