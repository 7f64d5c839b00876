/**
 * `npm run build:verifier -- --policy <file> [--url URL] [--out DIR]`: writes
 * DIR/index.html (default .wrangler/verifier), the independent verifier with
 * the policy's keys and quorum pinned inside. The policy file is what `GET
 * /v1/log/witnesses` answers, saved when you decided to trust it; the
 * deployment's URL comes from its "url" or from --url.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { verifierPage } from "../clients/verifier/page.ts";
import { openPins } from "../tlog/monitor.ts";
import { parseVerifierKey } from "../tlog/note.ts";
import { readPinsFile } from "./lib/pins-file.ts";

const USAGE = "usage: npm run build:verifier -- --policy <file> [--url https://receipts.example.com] [--out <dir>]";

export async function buildVerifier(o: { policy: string; url?: string; out: string }): Promise<string> {
  const pins = await readPinsFile(o.policy);
  await openPins(pins); // refuses keys that do not parse and a quorum the witnesses cannot meet
  const url = o.url ?? pins.url;
  if (!url) throw new Error(`${o.policy} names no "url": pass --url <the deployment>`);
  if (pins.quorum === 0)
    console.warn("build:verifier: the policy requires no witness: the page trusts the log's key alone");
  const file = join(resolve(o.out), "index.html");
  await mkdir(resolve(o.out), { recursive: true });
  const certKeys = [pins.terminalCertKey ?? [], pins.retiredTerminalCertKeys ?? []].flat();
  const unreadable = (await Promise.all(certKeys.map(parseVerifierKey))).some((k) => !k);
  if (unreadable) throw new Error(`${o.policy}: a terminal-certificate key does not parse`);
  if (!certKeys.length)
    console.warn("build:verifier: the policy pins no terminalCertKey: the page cannot check QR codes");
  await writeFile(file, verifierPage({ url, log: pins.log, witnesses: pins.witnesses, quorum: pins.quorum, certKeys }));
  return file;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      policy: { type: "string" },
      url: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help || !values.policy) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  buildVerifier({ policy: values.policy, url: values.url, out: values.out ?? ".wrangler/verifier" }).then(
    (file) => console.log(`build:verifier: wrote ${file}`),
    (e: Error) => {
      console.error(`build:verifier: ${e.message}`);
      process.exit(2);
    },
  );
}
