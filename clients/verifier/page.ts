/**
 * The independent verifier: one static HTML page with the deployment's URL,
 * the log's key and origin, the witnesses' keys and the quorum pinned inside
 * it. Anyone hosts it anywhere; it trusts nothing the deployment sends that it
 * cannot check (clients/verifier/script.ts). Built by `npm run build:verifier`.
 */
import { createHash } from "node:crypto";
import { inlineJson } from "../../kit/inline-json.ts";
import { VERIFIER_SCRIPT } from "./script.ts";

export type VerifierPins = {
  url: string;
  log: { origin: string; vkey: string };
  witnesses: { name?: string; vkey: string }[];
  quorum: number;
  /** The gateway's terminal-certificate keys (vkeys; current first): they sign printed QR codes and till certificates. */
  certKeys: string[];
};

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#111}
input{font:inherit;width:100%;padding:.5rem;box-sizing:border-box}button{font:inherit;margin-top:.5rem;padding:.5rem 1rem}
#verdict{margin:1rem 0;padding:.75rem;border-radius:.5rem;font-weight:600}.ok{color:#065f46}.fail{color:#991b1b}
#verdict.ok{background:#d1fae5}#verdict.signed{background:#fef3c7;color:#92400e}#verdict.failed{background:#fee2e2;color:#991b1b}#verdict.checking,#verdict.unfinished{background:#f3f4f6}
#steps{padding-left:1.2rem}details{margin-top:2rem;font-size:.85rem}code{word-break:break-all}`;

const escapeText = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

export function verifierPage(pins: VerifierPins): string {
  const url = new URL(pins.url).origin;
  const data = { ...pins, url };
  const scriptHash = createHash("sha256").update(VERIFIER_SCRIPT).digest("base64");
  const csp = `default-src 'none'; script-src 'sha256-${scriptHash}'; style-src 'unsafe-inline'; connect-src ${url}; base-uri 'none'; form-action 'none'`;
  const keyList = (keys: string[]) => keys.map((k) => `<li><code>${escapeText(k)}</code></li>`).join("");
  const witnesses = keyList(pins.witnesses.map((w) => w.vkey));
  const certKeys = keyList(pins.certKeys);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<title>Receipt verifier — ${escapeText(pins.log.origin)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Check a receipt</h1>
<p>Type the code printed on the receipt, or paste its link or what its QR code holds. This page checks it in your browser against the keys built into it, not against anything the service says about itself.</p>
<form id="check"><label for="code">Receipt code or link</label><input id="code" name="code" autocomplete="off" spellcheck="false" required><button type="submit">Check</button></form>
<div id="verdict" role="status" aria-live="polite"></div>
<ol id="steps"></ol>
<details><summary>What this page trusts</summary>
<p>Service: <code>${escapeText(url)}</code> (only asked; every answer is checked)</p>
<p>Log <code>${escapeText(pins.log.origin)}</code>, key <code>${escapeText(pins.log.vkey)}</code></p>
<p>${pins.quorum} of these witnesses must cosign:</p><ul>${witnesses}</ul>
<p>Printed QR codes and tills' certificates must be signed by one of:</p><ul>${certKeys || "<li>none pinned: QR codes cannot be checked</li>"}</ul>
</details>
<script type="application/json" id="pins">${inlineJson(data)}</script>
<script>${VERIFIER_SCRIPT}</script>
</body>
</html>
`;
}
