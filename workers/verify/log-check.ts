/**
 * The receipt page's one script: the customer's own browser checks, with
 * WebCrypto alone (tlog/browser.ts), that the record shown hashes to its hash,
 * that the hash is the leaf at its index of a tree whose root the log's key
 * signed for exactly this shard's origin and the witness quorum cosigned, and
 * that the tree extends the largest one of the shard this browser saw before
 * (kept in localStorage). The keys come with the page, so this proves the
 * page consistent with itself and with what this browser saw; the independent
 * verifier (VERIFIER_URL) pins them apart from us. It reads its inputs from a JSON block on the
 * page. Served as one file (LOG_CHECK_SCRIPT_URL) the tag pins by its SHA-256
 * (integrity), so a phone fetches it once for every receipt. Plain ES2020.
 */
import { createHash } from "node:crypto";
import { BROWSER_CODE_ROUTE } from "../../core/code.ts";
import { BROWSER_TLOG } from "../../tlog/browser.ts";

export const LOG_CHECK_SCRIPT = `(async () => {
  const box = document.getElementById("log-check");
  const data = JSON.parse(document.getElementById("log-proof").textContent);
  const say = (state, text) => {
    box.className = "log-check log-" + state;
    box.querySelector("[data-message]").textContent = text;
    box.dataset.result = state;
  };
  if (!(globalThis.crypto && crypto.subtle)) {
    say("unsupported", "Your browser cannot check signatures itself; the server's answer above stands.");
    return;
  }
${BROWSER_TLOG}
${BROWSER_CODE_ROUTE}
  try {
    say("checking", "Checking in your browser…");
    // The code is the one in this page's address (what the customer scanned or typed), not the server's word.
    const typed = decodeURIComponent(location.pathname.slice(location.pathname.lastIndexOf("/") + 1))
      .replace(/[-\\s]/g, "").toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");
    if (JSON.parse(data.record).code !== typed) throw new Error("the record shown is for another code");
    const own = route(typed);
    if (own.shard !== data.shard || own.counter !== data.leafIndex + 1) throw new Error("the proof is for another receipt");
    if (hex(await sha(enc.encode(data.record))) !== data.hash) throw new Error("the record does not hash to its hash");
    const pins = {
      log: await keyOf(data.verifierKey, 1),
      witnesses: await Promise.all(data.witnesses.map((w) => keyOf(w, 4))),
      quorum: data.quorum,
    };
    // Exactly this deployment's origin for this shard: a suffix match would take another log's checkpoint.
    const origin = data.logOrigin + "/" + data.shard;
    const cp = await checkpointCheck(data.checkpoint, pins, origin);
    if (cp.size !== data.treeSize) throw new Error("the proof is for another tree size");
    if (!(await inclusionOk(data.hash, data.leafIndex, cp.size, data.inclusion, cp.root))) {
      throw new Error(data.leafIndex < cp.size ? "the receipt is not in the signed tree" : "the entry is not within the signed tree");
    }
    // The largest tree of this log this browser saw before must be a prefix of this one, or this one of it.
    const slot = "tillproof-log:" + origin;
    const kept = keptTree(slot);
    let seen = "";
    if (kept && kept.size !== cp.size) {
      const [from, to, oldRoot, newRoot] = kept.size < cp.size
        ? [kept.size, cp.size, unhex(kept.root), cp.root] : [cp.size, kept.size, cp.root, unhex(kept.root)];
      // No answer (no network, a rate limit, a 5xx) proves nothing either way: say so, never "fork". Any
      // other refusal (a 400: the log no longer reaches the tree this browser saw) is the log's own word.
      const res = await fetch("/v1/log/" + data.shard + "/proof/consistency?from=" + from + "&to=" + to).catch(() => null);
      if (!res || res.status === 429 || res.status >= 500) {
        say("unfinished", "Your browser could not finish its check: the log did not answer" + (res ? " (HTTP " + res.status + ")" : "") +
          " when asked how this tree follows the one this browser saw before. Reload the page to try again.");
        return;
      }
      const proof = res.ok ? (await res.json()).consistency : null;
      if (!proof || !(await consistencyOk(from, to, proof, oldRoot, newRoot))) {
        throw new Error("the log is not consistent with the tree of " + kept.size + " entries this browser saw before");
      }
      seen = "; consistent with the tree of " + kept.size + " this browser saw before";
    } else if (kept && kept.root !== hex(cp.root)) {
      throw new Error("the log shows another tree of " + cp.size + " entries than this browser saw before");
    }
    if (!kept || kept.size < cp.size) keepTree(slot, cp);
    const witnessed = pins.quorum ? ", cosigned by " + cp.cosigned + " of " + pins.witnesses.length + " witnesses" : "";
    say("ok", "Checked by your browser against the signed log (" + origin + ", entry " + (data.leafIndex + 1) + " of " + cp.size + witnessed + seen + ").");
  } catch (e) {
    if (e && e.unsupported) {
      say("unsupported", "Your browser cannot check Ed25519 signatures itself; the server's answer above stands.");
      return;
    }
    say("failed", "Your browser could NOT confirm this receipt against the signed log: " + (e && e.message ? e.message : e) + ".");
  }
})();`;

export const LOG_CHECK_SCRIPT_HASH = createHash("sha256").update(LOG_CHECK_SCRIPT).digest("base64");
export const LOG_CHECK_SCRIPT_PATH = "/r-check.js";
/** Versioned by the script's hash: a deploy that changes it changes the URL, so browsers may keep each for good. */
export const LOG_CHECK_SCRIPT_VERSION = createHash("sha256").update(LOG_CHECK_SCRIPT).digest("hex").slice(0, 16);
export const LOG_CHECK_SCRIPT_URL = `${LOG_CHECK_SCRIPT_PATH}?v=${LOG_CHECK_SCRIPT_VERSION}`;
