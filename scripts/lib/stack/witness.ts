/**
 * The shipped witness (witness/) on this machine, for `npm run witness`,
 * `npm run dev` and the tests: workerd on 127.0.0.1, its URL being its
 * submission prefix, and the WITNESSES entry a gateway needs to use it.
 */
import { resolve } from "node:path";
import { cosignerOf, cosignerVkey } from "../../../tlog/cosignature.ts";
import { parseSigningKey } from "../../../tlog/note.ts";
import { startLocalWorker } from "./worker.ts";

const CONFIG = resolve(import.meta.dirname, "../../../witness/wrangler.toml");

export type LocalWitness = {
  /** The submission prefix, e.g. http://127.0.0.1:8788 (no trailing slash). */
  url: string;
  /** Its cosigner vkey (type 0x04). */
  vkey: string;
  /** `<vkey>@<url>`: one item of a gateway's WITNESSES. */
  entry: string;
  dispose: () => Promise<void>;
};

/** `logs`: the logs it follows (origin prefix and the log's vkey). `port` 0: any free one. */
export async function startWitness(opts: {
  key: string;
  logs: { originPrefix: string; vkey: string }[];
  port?: number;
  persistTo?: string;
  onLog?: (line: string) => void;
}): Promise<LocalWitness> {
  const vkey = cosignerVkey(await cosignerOf(await parseSigningKey(opts.key)));
  const worker = await startLocalWorker(
    { WITNESS_KEY: opts.key, WITNESS_LOGS: JSON.stringify(opts.logs) },
    opts.onLog,
    undefined,
    {
      config: CONFIG,
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.persistTo ? { persistTo: opts.persistTo } : {}),
    },
  );
  const url = worker.url.origin;
  return { url, vkey, entry: `${vkey}@${url}`, dispose: worker.dispose };
}
