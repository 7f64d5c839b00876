/**
 * A witness policy file (`--witness-policy`, `--policy`): what `GET
 * /v1/log/witnesses` answers, saved by whoever decides to trust it, with
 * optionally the deployment's `url`. Read by the audit and build:verifier.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { Pins } from "../../tlog/monitor.ts";

const pinsFileSchema = z.object({
  url: z.url().optional(),
  quorum: z.number().int().min(0),
  witnesses: z.array(z.object({ name: z.string().optional(), vkey: z.string() })),
  log: z.object({ origin: z.string().min(1), vkey: z.string().min(1) }),
  terminalCertKey: z.string().nullable().optional(),
  retiredTerminalCertKeys: z.array(z.string()).optional(),
});

export type PinsFile = Pins & z.infer<typeof pinsFileSchema>;

export async function readPinsFile(path: string): Promise<PinsFile> {
  const text = await readFile(path, "utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not JSON (save what GET /v1/log/witnesses answers)`);
  }
  const parsed = pinsFileSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${path}: ${z.prettifyError(parsed.error).replaceAll("\n", " ")}`);
  return parsed.data;
}
