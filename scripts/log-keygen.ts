/**
 * `npm run log:keygen -- <key name>`: a new Ed25519 key for the transparency
 * log, in the signed-note formats: the private key (for LOG_SIGNING_KEY) and
 * the verifier key to publish. Nothing is written or sent anywhere.
 */
import { generateSigningKey } from "../tlog/note.ts";

const name = process.argv[2];
if (!name || process.argv.length > 3) {
  console.error("usage: npm run log:keygen -- <key name, e.g. receipts.example.com>");
  process.exit(2);
}
const { privateKey, verifierKey } = await generateSigningKey(name);
console.log(`LOG_SIGNING_KEY (secret; wrangler secret put LOG_SIGNING_KEY):\n${privateKey}\n`);
console.log(`Verifier key (publish it; clients pin it):\n${verifierKey}`);
