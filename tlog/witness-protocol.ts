/**
 * C2SP tlog-witness's add-checkpoint request and answers, as text: what a log
 * sends and a witness reads. Both sides of this repository use it (the shard
 * submits, witness/ answers), and so can any other log or witness.
 *
 *   old <size>\n  <base64 hash>\n × (≤ 63)  \n  <signed checkpoint note>
 */
import { parseCosignerVkey } from "./cosignature.ts";
import type { Hash } from "./merkle.ts";
import { b64, unb64, type Verifier } from "./note.ts";

export const MAX_PROOF_LINES = 63;
/** The content type of a 409's body: the size the witness holds. */
export const SIZE_CONTENT_TYPE = "text/x.tlog.size";

export type AddCheckpoint = { oldSize: number; proof: Hash[]; note: string };

export function formatAddCheckpoint({ oldSize, proof, note }: AddCheckpoint): string {
  return `old ${oldSize}\n${proof.map((h) => `${b64(h)}\n`).join("")}\n${note}`;
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/** Reads an add-checkpoint body; null if it is malformed (a 400). */
export function parseAddCheckpoint(body: string): AddCheckpoint | null {
  const blank = body.indexOf("\n\n");
  if (blank < 0) return null;
  const [first = "", ...hashes] = body.slice(0, blank).split("\n");
  const size = first.startsWith("old ") ? first.slice(4) : "";
  if (!DECIMAL.test(size) || hashes.length > MAX_PROOF_LINES) return null;
  const proof: Hash[] = [];
  for (const line of hashes) {
    const h = unb64(line);
    if (h?.length !== 32) return null;
    proof.push(h);
  }
  const oldSize = Number(size);
  return Number.isSafeInteger(oldSize) ? { oldSize, proof, note: body.slice(blank + 2) } : null;
}

/** The size in a 409 answer's body; null if it is not one. */
export function parseSizeBody(text: string): number | null {
  const m = /^(0|[1-9][0-9]{0,15})\n$/.exec(text);
  return m ? Number(m[1]) : null;
}

/** One configured witness: `<vkey>@<submission URL prefix>` (split at the last "@"; no trailing slash). */
export type WitnessEntry = { vkey: string; name: string; url: string };

/** WITNESSES as entries; throws naming the first one that is not `<vkey>@<https or http URL>`. */
export function parseWitnessList(text: string | undefined): WitnessEntry[] {
  return (text ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .map((item) => {
      const at = item.lastIndexOf("@");
      const vkey = item.slice(0, at);
      const url = item.slice(at + 1).replace(/\/+$/, "");
      const name = vkey.split("+")[0] ?? "";
      if (at <= 0 || !name || !/^https?:\/\/[^/]/.test(url)) {
        throw new Error(`WITNESSES: "${item}" is not <vkey>@<submission URL prefix>`);
      }
      return { vkey, name, url };
    });
}

export type Witness = WitnessEntry & { verifier: Verifier };
/** The witnesses a log submits to, and how many must cosign a checkpoint before it counts. */
export type WitnessPolicy = { witnesses: Witness[]; quorum: number };

/** WITNESSES and WITNESS_QUORUM (default: all) as a policy; throws naming what is wrong. */
export async function parseWitnessPolicy(list: string | undefined, quorum?: number): Promise<WitnessPolicy> {
  const witnesses = await Promise.all(
    parseWitnessList(list).map(async (w) => {
      const verifier = await parseCosignerVkey(w.vkey);
      if (!verifier) throw new Error(`WITNESSES: "${w.vkey}" is not a cosigner (0x04) verifier key`);
      return { ...w, verifier };
    }),
  );
  const names = new Set(witnesses.map((w) => w.vkey));
  if (names.size !== witnesses.length) throw new Error("WITNESSES lists a witness twice");
  const q = quorum ?? witnesses.length;
  if (q > witnesses.length)
    throw new Error(`WITNESS_QUORUM ${q} is more than the ${witnesses.length} witnesses listed`);
  return { witnesses, quorum: q };
}
