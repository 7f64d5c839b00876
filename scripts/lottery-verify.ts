/**
 * `npm run lottery:verify -- <draw id> [--url URL] [--key VKEY] [--commitment HEX]`: checks a drawn lottery
 * with the public API only, trusting nothing the server says about itself:
 * the reveal against the commitment published at creation, each shard's root
 * at its size against the shard's signed checkpoint (signature, then a
 * consistency proof), then the seed and every winning number, recomputed.
 * Prints what it checked; exits 1 on any mismatch, 2 if it cannot check.
 * `--key` pins the log's verifier key (else it is read from the same server);
 * `--commitment` is the one you saw published before the close; `--witness-policy <file>`
 * pins the log and its witnesses as `npm run audit` does, and demands their quorum.
 * Each shard's size is checked to be the close (v1.2): the last leaf before it
 * and the first after it, proven in a witnessed checkpoint; a shard left out
 * must have had nothing before the close.
 */
import { parseArgs } from "node:util";
import {
  type Boundary,
  boundaryProblems,
  commitmentOf,
  type Prize,
  type ShardRoot,
  seedOf,
  winningNumbers,
} from "../core/lottery.ts";
import { fromHex, leafHash, toHex, verifyConsistency, verifyInclusion } from "../tlog/merkle.ts";
import { checkCheckpoint, type OpenedPins, openPins } from "../tlog/monitor.ts";
import type { Checkpoint } from "../tlog/note.ts";
import { logApi } from "./lib/audit/sources.ts";
import { readPinsFile } from "./lib/pins-file.ts";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string" },
    key: { type: "string" },
    commitment: { type: "string" },
    "witness-policy": { type: "string" },
  },
});
const id = positionals[0];
const base = (args.url ?? process.env.TILLPROOF_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`).replace(
  /\/+$/,
  "",
);
if (!id) {
  console.error(
    "usage: npm run lottery:verify -- <draw id> [--url https://receipts.example.com] [--key <log vkey>] [--commitment <hex>]",
  );
  process.exit(2);
}

type Drawn = {
  id: string;
  status: string;
  closesAt: string;
  commitment: string;
  reveal: string;
  seed: string;
  prizes: Prize[];
  shards: { shard: number; size: number; root: string }[];
  boundaries?: Boundary[];
  winningNumbers: { prize: number; name: string; suffixes: string[] }[];
};

let failures = 0;
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? "ok  " : "FAIL"}  ${what}`);
  if (!ok) failures++;
};

async function main(): Promise<number> {
  const res = await fetch(`${base}/v1/lottery/draws/${encodeURIComponent(id ?? "")}`);
  if (!res.ok) {
    console.error(`cannot read draw ${id} from ${base}: HTTP ${res.status}`);
    return 2;
  }
  const d = ((await res.json()) as { draw: Drawn }).draw;
  if (d.status !== "drawn") {
    console.error(`draw ${id} has not been drawn yet (status ${d.status})`);
    return 2;
  }
  check(d.id === id, `the answer is for draw ${id}`);
  if (args.commitment)
    check(args.commitment.toLowerCase() === d.commitment, "the commitment is the one published before the close");
  const reveal = fromHex(d.reveal);
  check(toHex(commitmentOf(reveal)) === d.commitment, `commitment: SHA-256(reveal) = ${d.commitment}`);

  const log = logApi(base);
  const served = (await log.pins()).log;
  const pinned = args["witness-policy"] ? await readPinsFile(args["witness-policy"]) : null;
  const vkey = pinned?.log.vkey ?? args.key ?? served.vkey ?? "";
  if (pinned || args.key) check(served.vkey === vkey, "the server's log key is the pinned one");
  const pins = await openPins(pinned ?? { log: { origin: served.origin, vkey }, witnesses: [], quorum: 0 });
  console.log(`      log key: ${vkey}${pins.quorum ? `, ${pins.quorum} witness cosignature(s) required` : ""}`);
  const shards: ShardRoot[] = [];
  for (const s of [...d.shards].sort((a, b) => a.shard - b.shard)) {
    const root = fromHex(s.root);
    shards.push({ shard: s.shard, size: s.size, root });
    let cp: Checkpoint | undefined;
    try {
      cp = (await log.checkpoint(s.shard, pins))?.checkpoint;
    } catch (e) {
      check(false, `shard ${s.shard}: checkpoint (${(e as Error).message})`);
      continue;
    }
    if (!cp) {
      check(false, `shard ${s.shard}: no signed checkpoint`);
      continue;
    }
    if (cp.size < s.size) {
      check(false, `shard ${s.shard}: its signed checkpoint (size ${cp.size}) does not cover size ${s.size} yet`);
      continue;
    }
    let ok = cp.size === s.size && toHex(cp.root) === s.root;
    if (cp.size > s.size) {
      const p = await fetch(`${base}/v1/log/${s.shard}/proof/consistency?from=${s.size}&to=${cp.size}`);
      const proof = p.ok ? ((await p.json()) as { consistency: string[] }).consistency.map(fromHex) : [];
      ok = p.ok && verifyConsistency(s.size, cp.size, proof, root, cp.root);
    }
    check(ok, `shard ${s.shard}: root at size ${s.size} is consistent with its signed checkpoint at ${cp.size}`);
  }

  await checkBoundaries(d, pins);

  const seed = seedOf(d.id, reveal, shards);
  check(toHex(seed) === d.seed, `seed: ${toHex(seed)}`);
  const winning = winningNumbers(seed, d.prizes);
  for (const w of winning) {
    const published = d.winningNumbers.find((x) => x.prize === w.prize);
    check(
      JSON.stringify(published?.suffixes) === JSON.stringify(w.suffixes) && published?.name === w.name,
      `prize ${w.prize} (${w.name}): ${w.suffixes.join(" ")}`,
    );
  }
  check(d.winningNumbers.length === winning.length, `${winning.length} prizes, as published`);
  console.log(failures ? `\n${failures} check(s) failed` : `\ndraw ${d.id} checks out`);
  return failures ? 1 : 0;
}

/** Each shard's size is the close, proven in a witnessed checkpoint; a shard left out had nothing before it. */
async function checkBoundaries(d: Drawn, pins: OpenedPins): Promise<void> {
  if (!d.boundaries) {
    console.log("note  drawn before boundaries were published: each shard's size at the close is the operator's word");
    return;
  }
  const closesAt = Date.parse(d.closesAt);
  const bounded = new Map(d.boundaries.map((b) => [b.shard, b]));
  for (const s of d.shards) {
    if (!bounded.has(s.shard)) check(false, `shard ${s.shard}: nothing proves its size at the close`);
  }
  for (const b of [...d.boundaries].sort((x, y) => x.shard - y.shard)) {
    const drawn = d.shards.find((s) => s.shard === b.shard);
    if ((drawn?.size ?? 0) !== b.size) {
      check(false, `shard ${b.shard}: the proof is for size ${b.size}, the seed used ${drawn?.size ?? "none"}`);
      continue;
    }
    const verdict = await checkCheckpoint(b.checkpoint, pins, `${pins.origin}/${b.shard}`);
    if (!verdict.ok) {
      check(false, `shard ${b.shard}: its witnessed checkpoint ${verdict.reason}`);
      continue;
    }
    const tree = verdict.checkpoint;
    const included = (leaf: { index: number; hash: string; inclusion: string[] }) =>
      verifyInclusion(leafHash(fromHex(leaf.hash)), leaf.index, tree.size, leaf.inclusion.map(fromHex), tree.root);
    const problems = boundaryProblems(b, closesAt, tree, included);
    if (drawn && !problems.length) {
      // The seed's root at the cut is the witnessed tree's prefix.
      let same = tree.size === b.size && toHex(tree.root) === drawn.root;
      if (tree.size > b.size) {
        const p = await fetch(`${base}/v1/log/${b.shard}/proof/consistency?from=${b.size}&to=${tree.size}`);
        const proof = p.ok ? ((await p.json()) as { consistency: string[] }).consistency.map(fromHex) : [];
        same = p.ok && verifyConsistency(b.size, tree.size, proof, fromHex(drawn.root), tree.root);
      }
      if (!same) problems.push(`its root at size ${b.size} is not a prefix of the witnessed tree`);
    }
    const sides = [
      b.last ? `entry ${b.last.index + 1} at ${b.last.receivedAt}` : "nothing",
      b.next ? `entry ${b.next.index + 1} at ${b.next.receivedAt}` : `the witnessed tree's end (${tree.size})`,
    ];
    check(
      !problems.length,
      `shard ${b.shard}: ${b.size ? `size ${b.size}` : "left out"} is the close (${sides.join(" < close ≤ ")}, ${verdict.cosigned} cosignature(s))${problems.length ? `: ${problems.join("; ")}` : ""}`,
    );
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`lottery:verify: ${e.message}`);
    process.exit(2);
  },
);
