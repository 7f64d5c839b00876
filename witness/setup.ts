/**
 * The witness's configuration, read once per isolate: WITNESS_KEY (its
 * Ed25519 key in signed-note form) and WITNESS_LOGS (the logs it follows).
 */
import { z } from "zod";
import { type Cosigner, cosignerOf } from "../tlog/cosignature.ts";
import { parseSigningKey, parseVerifierKey, type Verifier } from "../tlog/note.ts";
import type { TrustedLog } from "./add-checkpoint.ts";

export interface WitnessEnv {
  /** Secret: PRIVATE+KEY+<name>+<id>+<base64>, as `npm run log:keygen` prints. */
  WITNESS_KEY?: string;
  /** JSON: [{ "originPrefix": "receipts.example.com/log/", "vkey": "<log vkey>" }, …] */
  WITNESS_LOGS?: string;
  ORIGINS: DurableObjectNamespace<import("./origin-object.ts").WitnessedOrigin>;
}

export type WitnessSetup = { cosigner: Cosigner; logs: TrustedLog[] };

const logsSchema = z.array(z.object({ originPrefix: z.string().min(1), vkey: z.string().min(1) })).min(1);

const read = new Map<string, Promise<WitnessSetup>>();

async function parse(key: string, logs: string): Promise<WitnessSetup> {
  if (!key) throw new Error("WITNESS_KEY is not set");
  const cosigner = await cosignerOf(
    await parseSigningKey(key).catch((e: Error) => {
      throw new Error(e.message.replaceAll("LOG_SIGNING_KEY", "WITNESS_KEY"));
    }),
  );
  let entries: z.infer<typeof logsSchema>;
  try {
    entries = logsSchema.parse(JSON.parse(logs));
  } catch {
    throw new Error('WITNESS_LOGS must be JSON: [{ "originPrefix": "…", "vkey": "…" }]');
  }
  const trusted = await Promise.all(
    entries.map(async ({ originPrefix, vkey }) => {
      const verifier = await parseVerifierKey(vkey);
      if (!verifier) throw new Error(`WITNESS_LOGS: "${vkey}" is not an Ed25519 verifier key`);
      return { originPrefix, verifier };
    }),
  );
  // Several keys for one prefix (a log rotating its key): any of them may sign.
  const byPrefix = new Map<string, Verifier[]>();
  for (const t of trusted) byPrefix.set(t.originPrefix, [...(byPrefix.get(t.originPrefix) ?? []), t.verifier]);
  return { cosigner, logs: [...byPrefix].map(([originPrefix, verifiers]) => ({ originPrefix, verifiers })) };
}

/** The parsed configuration; rejects, naming the variable, if it is missing or malformed. */
export function witnessSetup(env: Pick<WitnessEnv, "WITNESS_KEY" | "WITNESS_LOGS">): Promise<WitnessSetup> {
  const key = env.WITNESS_KEY?.trim() ?? "";
  const logs = env.WITNESS_LOGS ?? "";
  const cacheKey = `${key}\n${logs}`;
  let setup = read.get(cacheKey);
  if (!setup) {
    setup = parse(key, logs);
    setup.catch(() => read.delete(cacheKey));
    read.set(cacheKey, setup);
  }
  return setup;
}
