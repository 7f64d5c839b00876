/**
 * `npm run lint:api`: serves the Worker locally (no Postgres needed: the
 * document is generated from the routes), saves its /openapi.json to
 * .data/openapi.json, and runs `redocly lint` on it with the recommended
 * rules. Exits with redocly's status: 0 only when there is no error.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { startLocalWorker } from "./lib/stack/worker.ts";

const ROOT = resolve(import.meta.dirname, "..");

/** The document as the Worker serves it. */
export async function servedDocument(): Promise<unknown> {
  const vars = { DATABASE_URL: "postgres://unused@127.0.0.1:1/none", OPERATOR_TOKEN: "unused", CODE_KEY: "unused" };
  const worker = await startLocalWorker(vars);
  try {
    const res = await fetch(new URL("/openapi.json", worker.url));
    if (!res.ok) throw new Error(`/openapi.json answered ${res.status}`);
    return await res.json();
  } finally {
    await worker.dispose();
  }
}

/** Runs redocly lint on the document; returns its exit status and output. */
export async function lintDocument(doc: unknown): Promise<{ status: number; output: string }> {
  const dir = resolve(ROOT, ".data");
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, "openapi.json");
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  const run = spawnSync(resolve(ROOT, "node_modules/.bin/redocly"), ["lint", file, "--format", "stylish"], {
    encoding: "utf8",
    // Nothing may wait on the internet: no telemetry, no update check.
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", CI: "true" },
  });
  return { status: run.status ?? 1, output: `${run.stdout}${run.stderr}` };
}

if (import.meta.main) {
  const { status, output } = await lintDocument(await servedDocument());
  process.stdout.write(output);
  process.exit(status);
}
