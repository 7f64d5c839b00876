/**
 * A signing key for a local stack (the log's, LOG_SIGNING_KEY, the
 * terminal-certificate key, TERMINAL_CERT_KEY, or the local witness's,
 * WITNESS_KEY): the variable when set, else
 * one generated once into .data/ (kept, so what it signed stays checkable
 * across runs).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { generateSigningKey, parseSigningKey, verifierKeyOf } from "../../tlog/note.ts";

export async function localKey(
  variable: "LOG_SIGNING_KEY" | "TERMINAL_CERT_KEY" | "WITNESS_KEY",
  file: string,
  name: string,
): Promise<{ privateKey: string; verifierKey: string }> {
  let privateKey = process.env[variable];
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
