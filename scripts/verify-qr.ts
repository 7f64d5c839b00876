/**
 * `npm run verify:qr -- --key <terminalCertKey vkey> [--key <retired vkey>…] <QR text>`:
 * checks what a printed QR code carries — an offline receipt's `/o#…` or a
 * receipt's signed QR — with the pinned keys only (GET /v1/log/witnesses
 * publishes them). Exit 0 when every check passes, 1 when one fails, 2 on
 * bad usage. Nothing is fetched.
 */
import { checkPrinted } from "./lib/verify-qr.ts";

const args = process.argv.slice(2);
const keys: string[] = [];
const rest: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--key") keys.push(args[++i] ?? "");
  else rest.push(args[i] as string);
}
if (!keys.length || rest.length !== 1) {
  console.error("usage: npm run verify:qr -- --key <vkey> [--key <vkey>…] <QR text, URL or payload>");
  process.exit(2);
}
const result = await checkPrinted(rest[0] as string, keys);
for (const line of result.lines) console.log(line);
process.exit(result.ok ? 0 : 1);
