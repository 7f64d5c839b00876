/**
 * `npm run log:keygen -- <key name>`: a new Ed25519 key for the transparency
 * log, in the signed-note formats: the private key (for LOG_SIGNING_KEY) and
 * the verifier key to publish. `npm run terminal:keygen -- <key name>` makes
 * the terminal-certificate key (TERMINAL_CERT_KEY) the same way, and
 * `npm run log:keygen -- --witness <name>` a witness's (WITNESS_KEY, with its
 * 0x04 cosigner vkey for the logs' WITNESSES). Nothing is
 * written or sent anywhere.
 */
import { cosignerOf, cosignerVkey } from "../tlog/cosignature.ts";
import { generateSigningKey, parseSigningKey } from "../tlog/note.ts";

const terminal = process.argv.includes("--terminal-cert");
const witness = process.argv.includes("--witness");
const args = process.argv.slice(2).filter((a) => a !== "--terminal-cert" && a !== "--witness");
const name = args[0];
const variable = terminal ? "TERMINAL_CERT_KEY" : witness ? "WITNESS_KEY" : "LOG_SIGNING_KEY";
if (!name || args.length > 1) {
  console.error(`usage: npm run ${terminal ? "terminal" : "log"}:keygen -- <key name, e.g. receipts.example.com>`);
  process.exit(2);
}
const { privateKey, verifierKey } = await generateSigningKey(name);
console.log(`${variable} (secret; wrangler secret put ${variable}):\n${privateKey}\n`);
console.log(
  witness
    ? `Cosigner vkey (logs list it in WITNESSES as <vkey>@<this witness's URL>):\n${cosignerVkey(await cosignerOf(await parseSigningKey(privateKey)))}`
    : terminal
      ? `Verifier key (published at /v1/log/witnesses; when you rotate, add it to TERMINAL_CERT_RETIRED):\n${verifierKey}`
      : `Verifier key (publish it; clients pin it):\n${verifierKey}`,
);
