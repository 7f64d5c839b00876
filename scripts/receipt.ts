/**
 * `npm run receipt`: issues one receipt through the typed terminal client
 * (clients/terminal/), as the demo terminal of the running `npm run dev`
 * (its token is in .data/demo*.json), or with --url and --token.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { TerminalClient } from "../clients/terminal/index.ts";
import type { Demo } from "./lib/demo.ts";
import { demoSale } from "./lib/demo.ts";

const DATA = resolve(import.meta.dirname, "../.data");

/** The demo terminal `npm run dev` saved last. */
function savedDemo(): Demo {
  const files = readdirSync(DATA)
    .filter((f) => /^demo.*\.json$/.test(f))
    .map((f) => resolve(DATA, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files[0]) throw new Error("no demo terminal yet: start `npm run dev` first, or pass --token");
  return JSON.parse(readFileSync(files[0], "utf8")) as Demo;
}

const { values } = parseArgs({
  options: {
    url: { type: "string", default: `http://127.0.0.1:${process.env.PORT ?? 8787}` },
    token: { type: "string" },
  },
});

const till = new TerminalClient({ baseUrl: values.url, token: values.token ?? savedDemo().terminalToken });
const receipt = await till.issueReceipt(demoSale());
console.log(`${receipt.code}  seq ${receipt.seq}  ${receipt.verifyUrl}`);
