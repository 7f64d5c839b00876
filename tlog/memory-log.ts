/**
 * A whole signed log in memory, every leaf kept: roots and consistency proofs
 * at any size straight from RFC 6962's definitions. For tests and tools that
 * play a log of their own against a witness (it does not scale, and need not).
 */
import { consistencyRanges, type Hash, leafHash, rootOfLeafHashes } from "./merkle.ts";
import {
  formatCheckpoint,
  generateSigningKey,
  parseSigningKey,
  parseVerifierKey,
  type Signer,
  signNote,
  type Verifier,
} from "./note.ts";

export type MemoryLog = {
  vkey: string;
  signer: Signer;
  verifier: Verifier;
  size: () => number;
  /** Appends `n` leaves (distinct by position and `salt`, so two logs can fork). */
  grow: (n: number, salt?: string) => void;
  root: (size?: number) => Hash;
  /** The checkpoint at `size` (default: all leaves), signed by the log's key. */
  note: (size?: number, origin?: string) => Promise<string>;
  /** The consistency proof from `from` to `to`; empty from 0 or between equal sizes. */
  proof: (from: number, to: number) => Hash[];
};

export async function memoryLog(name: string, origin: string): Promise<MemoryLog> {
  const { privateKey, verifierKey } = await generateSigningKey(name);
  const signer = await parseSigningKey(privateKey);
  const verifier = (await parseVerifierKey(verifierKey)) as Verifier;
  const leaves: Hash[] = [];
  const root = (size = leaves.length) => rootOfLeafHashes(leaves.slice(0, size));
  return {
    vkey: verifierKey,
    signer,
    verifier,
    size: () => leaves.length,
    grow(n, salt = "") {
      for (let i = 0; i < n; i++) leaves.push(leafHash(new TextEncoder().encode(`${salt}leaf ${leaves.length}`)));
    },
    root,
    note: (size = leaves.length, o = origin) =>
      signNote(formatCheckpoint({ origin: o, size, root: root(size) }), signer),
    proof: (from, to) =>
      from === 0 || from === to
        ? []
        : consistencyRanges(from, to).map((r) => rootOfLeafHashes(leaves.slice(r.start, r.end))),
  };
}
