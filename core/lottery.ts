/**
 * The receipt lottery's formulas (contract v1.1 "Receipt lottery"), to the
 * byte: the commitment, the seed from the reveal and each shard's log root at
 * the close, the winning suffixes, eligibility and who wins. Pure: the Worker,
 * the page and `npm run lottery:verify` use the same functions.
 */
import { createHash, createHmac } from "node:crypto";
import { z } from "zod";
import { slug } from "./ids.ts";

export const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const prizeSchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  digits: z.number().int().min(1).max(8),
  numbers: z.number().int().min(1).max(100),
});

export const drawRequestSchema = z.strictObject({
  id: slug,
  title: z.string().trim().min(1).max(200),
  closesAt: z.iso.datetime({ offset: true }),
  minTotal: z.number().int().min(0).max(1_000_000_000_000).default(0),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, "must be an ISO 4217 currency code")
    .optional(),
  tenants: z.array(slug).min(1).max(1000).optional(),
  prizes: z.array(prizeSchema).min(1).max(20),
});

export type DrawRequest = z.infer<typeof drawRequestSchema>;
export type Prize = z.infer<typeof prizeSchema>;
export type ShardRoot = { shard: number; size: number; root: Uint8Array };
/** What decides eligibility. Times are epoch milliseconds. */
export type DrawRules = {
  opensAt: number;
  closesAt: number;
  minTotal: number;
  currency?: string | undefined;
  tenants?: string[] | undefined;
};

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

export const commitmentOf = (reveal: Uint8Array): Uint8Array => sha256(reveal);

/**
 * seed = SHA-256(UTF-8("tillproof-lottery-v1\n" + id + "\n") ‖ reveal ‖ for
 * each shard in ascending order with size > 0: uint32-BE(shard) ‖
 * uint64-BE(size) ‖ root).
 */
export function seedOf(id: string, reveal: Uint8Array, shards: ShardRoot[]): Uint8Array {
  const parts: Uint8Array[] = [new TextEncoder().encode(`tillproof-lottery-v1\n${id}\n`), reveal];
  for (const s of [...shards].filter((x) => x.size > 0).sort((a, b) => a.shard - b.shard)) {
    const head = new DataView(new ArrayBuffer(12));
    head.setUint32(0, s.shard);
    head.setBigUint64(4, BigInt(s.size));
    parts.push(new Uint8Array(head.buffer), s.root);
  }
  return sha256(...parts);
}

/** The first `digits` characters of Crockford base32 of `bytes`, 5 bits a character, most significant first. */
export function crockford(bytes: Uint8Array, digits: number): string {
  let out = "";
  for (let i = 0; i < digits; i++) {
    let v = 0;
    for (let b = 0; b < 5; b++) {
      const bit = i * 5 + b;
      v = (v << 1) | (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1);
    }
    out += CROCKFORD[v];
  }
  return out;
}

/** Prize j's suffixes: for k < numbers, crockford(HMAC-SHA256(seed, "prize/j/k"), digits). */
export function winningNumbers(
  seed: Uint8Array,
  prizes: Prize[],
): { prize: number; name: string; suffixes: string[] }[] {
  return prizes.map((p, j) => ({
    prize: j,
    name: p.name,
    suffixes: Array.from({ length: p.numbers }, (_, k) =>
      crockford(new Uint8Array(createHmac("sha256", seed).update(`prize/${j}/${k}`).digest()), p.digits),
    ),
  }));
}

/** The prize a compact code wins (the smallest j whose suffix it ends with), or null. */
export function prizeFor(
  compactCode: string,
  winning: { prize: number; name: string; suffixes: string[] }[],
): { prize: number; name: string } | null {
  const code = compactCode.toUpperCase();
  for (const w of winning) if (w.suffixes.some((s) => code.endsWith(s))) return { prize: w.prize, name: w.name };
  return null;
}

/**
 * What a receipt counts for against minTotal: a sale's total less its refunds
 * received before the close; null when it takes no part at all (a refund, a
 * void, a voided sale). Receipts from before v1.2 are sales without refunds.
 */
export function countedTotal(
  r: {
    total: number;
    kind?: "sale" | "refund" | "void";
    refunds?: { total: number; receivedAt: string }[];
    voidedBy?: string | null;
  },
  closesAt: number,
): number | null {
  if ((r.kind ?? "sale") !== "sale" || r.voidedBy) return null;
  const refunded = (r.refunds ?? [])
    .filter((x) => Date.parse(x.receivedAt) < closesAt)
    .reduce((s, x) => s + x.total, 0);
  return r.total - refunded;
}

/** opensAt ≤ receivedAt < closesAt, total ≥ minTotal, and the currency and tenant, when the draw names them. */
export function isEligible(
  r: { receivedAt: number; total: number; currency: string; tenantId: string },
  d: DrawRules,
): boolean {
  return (
    d.opensAt <= r.receivedAt &&
    r.receivedAt < d.closesAt &&
    r.total >= d.minTotal &&
    (d.currency === undefined || r.currency === d.currency) &&
    (d.tenants === undefined || d.tenants.includes(r.tenantId))
  );
}

/** One leaf either side of a shard's cut, as a draw publishes it (#26). */
export type BoundaryLeaf = {
  /** 0-based leaf index. */
  index: number;
  /** The receipt's receivedAt (ISO 8601), as its record holds it. */
  receivedAt: string;
  /** The receipt's hash (hex): the leaf is RFC 9162's leaf hash of these 32 bytes. */
  hash: string;
  /** The inclusion proof of the leaf in the witnessed checkpoint's tree (hex hashes). */
  inclusion: string[];
};

/**
 * What proves a shard's size at the close: a witnessed checkpoint taken after
 * the run started, the last leaf before the close and the first one after it
 * (null when the witnessed tree ends at the cut). A shard whose log was not
 * empty but had nothing before the close is published with size 0.
 */
export type Boundary = {
  shard: number;
  size: number;
  /** The witnessed checkpoint (a signed note with cosignatures) the proofs are against. */
  checkpoint: string;
  last: BoundaryLeaf | null;
  next: BoundaryLeaf | null;
};

/**
 * Why a boundary does not prove its cut, given the close and the witnessed
 * tree (already checked: signature, origin, quorum): each leaf must sit where
 * the cut says, be in the tree, and be stamped on its side of the close. Empty: it does.
 */
export function boundaryProblems(
  b: Boundary,
  closesAt: number,
  tree: { size: number; root: Uint8Array },
  included: (leaf: BoundaryLeaf) => boolean,
): string[] {
  const out: string[] = [];
  const at = (leaf: BoundaryLeaf, index: number, what: string) => {
    if (leaf.index !== index) out.push(`its ${what} leaf is entry ${leaf.index + 1}, not ${index + 1}`);
    else if (!included(leaf)) out.push(`its ${what} leaf is not in the witnessed tree of size ${tree.size}`);
  };
  if (tree.size < b.size) out.push(`the witnessed tree (size ${tree.size}) is smaller than the cut (${b.size})`);
  if (b.size === 0) {
    if (b.last) out.push("an empty cut has no last leaf");
  } else if (!b.last) {
    out.push("no last leaf before the close");
  } else {
    at(b.last, b.size - 1, "last");
    if (!(Date.parse(b.last.receivedAt) < closesAt))
      out.push(`its last leaf was received at ${b.last.receivedAt}, not before the close`);
  }
  if (tree.size > b.size) {
    if (!b.next) out.push(`the witnessed tree has ${tree.size - b.size} leaf(s) past the cut, and none is shown`);
    else {
      at(b.next, b.size, "next");
      if (!(Date.parse(b.next.receivedAt) >= closesAt))
        out.push(`its next leaf was received at ${b.next.receivedAt}, before the close`);
    }
  } else if (b.next) out.push("a next leaf past the witnessed tree");
  return out;
}

/** A receipt whose code ends with a winning suffix (its smallest prize), before refunds and voids count. */
export type Candidate = {
  code: string;
  prize: number;
  tenantId: string;
  storeId: string;
  total: number;
  currency: string;
  receivedAt: string;
};
/** What refers to a candidate in one database: refunds before the close, and whether a void before the run. */
export type Adjustment = { code: string; refunded: number; voided: boolean };

/**
 * The winners among candidates gathered from several databases (a refund or
 * void may sit in another database than its sale): net of every refund, none
 * voided, at least `minTotal`; each code once with its smallest prize, by code.
 * The same rule the one-database query applies in SQL (db/lottery.ts).
 */
export function settleWinners(candidates: Candidate[], adjustments: Adjustment[], minTotal: number): Candidate[] {
  const refunded = new Map<string, number>();
  const voided = new Set<string>();
  for (const a of adjustments) {
    refunded.set(a.code, (refunded.get(a.code) ?? 0) + a.refunded);
    if (a.voided) voided.add(a.code);
  }
  const best = new Map<string, Candidate>();
  for (const c of candidates) {
    if (voided.has(c.code) || c.total - (refunded.get(c.code) ?? 0) < minTotal) continue;
    const seen = best.get(c.code);
    if (!seen || c.prize < seen.prize) best.set(c.code, c);
  }
  return [...best.values()].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
}
