/**
 * The Worker of wrangler.toml in workerd, in this process, on a free port of
 * 127.0.0.1 (wrangler's unstable_startWorker: every binding, storage in
 * memory). For the tests' stacks and the tools that only need the Worker.
 */
import { resolve } from "node:path";
import { type Binding, unstable_startWorker } from "wrangler";
import { quiet } from "./settings.ts";

const CONFIG = resolve(import.meta.dirname, "../../../wrangler.toml");

export type LocalWorker = { url: URL; dispose: () => Promise<void> };

/**
 * `vars`: plain-text bindings (settings and secrets); `onLog`: the Worker's
 * console lines; `entrypoint`: another entry than wrangler.toml's main (the
 * chaos entry wraps the product's). `opts.config`: another Worker's
 * wrangler.toml (the witness's); `opts.port` a fixed port; `opts.persistTo` a
 * folder that keeps its storage across runs.
 */
export async function startLocalWorker(
  vars: Record<string, string>,
  onLog?: (line: string) => void,
  entrypoint?: string,
  opts: { config?: string; port?: number; persistTo?: string } = {},
): Promise<LocalWorker> {
  quiet(); // whoever the caller is
  const worker = await unstable_startWorker({
    config: opts.config ?? CONFIG,
    ...(entrypoint ? { entrypoint } : {}),
    bindings: Object.fromEntries(
      Object.entries(vars).map(([name, value]): [string, Binding] => [name, { type: "plain_text", value }]),
    ),
    dev: {
      server: { hostname: "127.0.0.1", port: opts.port ?? 0 },
      persist: opts.persistTo ?? false,
      inspector: false,
      watch: false,
      logLevel: "none",
      ...(onLog
        ? { structuredLogsHandler: (log: { level: string; message: string }) => onLog(`${log.level}: ${log.message}`) }
        : {}),
    },
  });
  try {
    await worker.ready;
    return { url: await worker.url, dispose: () => worker.dispose() };
  } catch (e) {
    await worker.dispose();
    throw e;
  }
}
