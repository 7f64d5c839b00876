/**
 * The log's signing key for a local stack: LOG_SIGNING_KEY when set, else one
 * generated once into .data/ (kept, so checkpoints stay verifiable across runs).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { generateSigningKey, parseSigningKey, verifierKeyOf } from "../../tlog/note.ts";

export async function localLogKey(file: string, name: string): Promise<{ privateKey: string; verifierKey: string }> {
  let privateKey = process.env.LOG_SIGNING_KEY;
  if (!privateKey) {
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${(await generateSigningKey(name)).privateKey}\n`, { mode: 0o600 });
    }
    privateKey = readFileSync(file, "utf8").trim();
  }
  const signer = await parseSigningKey(privateKey);
  return { privateKey, verifierKey: verifierKeyOf(signer) };
}
