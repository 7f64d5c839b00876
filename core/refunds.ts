/**
 * The refund ledger of one original sale, pure (contract v1.2 "Refunds and
 * voids"; the saga around it: docs/refunds.md). The ledger lives with the
 * original, on its shard: what the sale allows (per line and in total) and
 * every hold on it, reserved by a refund or a void being issued elsewhere and
 * then confirmed or released. Reserved and confirmed holds both count, so two
 * refunds racing for the last unit can never both get it.
 */
import { canonicalHash } from "./canonical.ts";
import { type ChainRecord, type Item, kindOf, type ReceiptKind } from "./receipt.ts";

/** Quantities are compared in millionths, so 0.1 + 0.2 of a kilo never exceeds 0.3. */
const SCALE = 1_000_000;
const units = (q: number) => Math.round(q * SCALE);

/** One line of the original as refunds see it: lines with the same sku (or, without one, name) add up. */
export type OriginalLine = { key: string; label: string; quantity: number; amount: number };

/** What the original allows, fixed when its ledger opens (from its hashed record). */
export type Original = {
  code: string;
  tenantId: string;
  storeId: string;
  kind: ReceiptKind;
  currency: string;
  total: number;
  /** Epoch ms. */
  receivedAt: number;
  lines: OriginalLine[];
  /** Hash of { items, total, payments }: a void must mirror it exactly. */
  bodyHash: string;
};

/** What one refund takes from the original: per line key, quantity in millionths and amount. */
export type Claim = { total: number; lines: { key: string; units: number; amount: number }[] };

export type Hold = {
  /** The refund's own key (its terminal and Idempotency-Key, hashed): the same on every retry. */
  id: string;
  kind: "refund" | "void";
  /** Hash of the refund's body: a retry must send the same. */
  bodyHash: string;
  claim: Claim;
  state: "reserved" | "confirmed";
  /** The shard issuing the refund, which is asked what became of a reservation that timed out. */
  from: number;
  /** Bumped by each reservation, so a release decided on an old answer never undoes a newer one. */
  attempt: number;
  /** Epoch ms; a reserved hold nobody confirmed is looked into then. */
  expiresAt: number;
  /** Once confirmed: the refund's code (ungrouped), total and receivedAt. */
  issued?: { code: string; total: number; receivedAt: string };
};

export type Ledger = { original: Original; holds: Hold[] };

export type LedgerRefusal =
  | { reason: "original_not_found" | "original_not_refundable" | "void_window_closed" | "void_not_allowed" }
  | { reason: "refund_exceeds_original"; path: string; message: string }
  | { reason: "idempotency_conflict" };

/** Sku when the line has one, else its name: how a refund line finds its original line. */
const lineKey = (i: Pick<Item, "sku" | "name">) => (i.sku !== undefined ? `s:${i.sku}` : `n:${i.name}`);

export const mirrorHash = (r: { items: Item[]; total: number; payments: ChainRecord["payments"] }): string =>
  canonicalHash({ items: r.items, total: r.total, payments: r.payments });

export function originalOf(r: ChainRecord): Original {
  const lines = new Map<string, OriginalLine>();
  for (const i of r.items) {
    const key = lineKey(i);
    const line = lines.get(key) ?? {
      key,
      label: i.sku !== undefined ? `${i.name} (sku ${i.sku})` : i.name,
      quantity: 0,
      amount: 0,
    };
    line.quantity += units(i.quantity);
    line.amount += i.total;
    lines.set(key, line);
  }
  return {
    code: r.code,
    tenantId: r.tenantId,
    storeId: r.storeId,
    kind: kindOf(r),
    currency: r.currency,
    total: r.total,
    receivedAt: Date.parse(r.receivedAt),
    lines: [...lines.values()],
    bodyHash: mirrorHash(r),
  };
}

/**
 * Which original line each refund item gives back: the line with the item's
 * sku, or, for an original line without a sku, the one with the item's name.
 * An item that matches no line is refused, naming it.
 */
export function claimOf(original: Original, items: Pick<Item, "sku" | "name" | "quantity" | "total">[]) {
  const bySku = new Map(original.lines.filter((l) => l.key.startsWith("s:")).map((l) => [l.key, l]));
  const byName = new Map(original.lines.filter((l) => l.key.startsWith("n:")).map((l) => [l.key, l]));
  const claimed = new Map<string, { key: string; units: number; amount: number }>();
  let total = 0;
  for (const [i, item] of items.entries()) {
    const line =
      (item.sku !== undefined ? bySku.get(`s:${item.sku}`) : undefined) ?? byName.get(`n:${item.name}`) ?? null;
    if (!line) {
      const refusal: LedgerRefusal = {
        reason: "refund_exceeds_original",
        path: `items.${i}`,
        message: `"${item.name}" is not on the original receipt`,
      };
      return refusal;
    }
    const c = claimed.get(line.key) ?? { key: line.key, units: 0, amount: 0 };
    c.units += units(item.quantity);
    c.amount += item.total;
    claimed.set(line.key, c);
    total += item.total;
  }
  return { total, lines: [...claimed.values()] } satisfies Claim;
}

/** Holds that count against the original: reserved (being issued) and confirmed alike. */
const live = (l: Ledger, except?: string) => l.holds.filter((h) => h.id !== except);

/** What the original still allows, per line and in total, given every live hold but `except`. */
export function remaining(l: Ledger, except?: string): { total: number; lines: Map<string, OriginalLine> } {
  const lines = new Map(l.original.lines.map((x) => [x.key, { ...x }]));
  let total = l.original.total;
  for (const h of live(l, except)) {
    if (h.kind !== "refund") continue;
    total -= h.claim.total;
    for (const c of h.claim.lines) {
      const line = lines.get(c.key);
      if (line) {
        line.quantity -= c.units;
        line.amount -= c.amount;
      }
    }
  }
  return { total, lines };
}

const isVoided = (l: Ledger, except?: string) => live(l, except).some((h) => h.kind === "void");

export type ReserveRequest = {
  hold: string;
  kind: "refund" | "void";
  bodyHash: string;
  /** The refunding terminal's tenant and store. */
  tenantId: string;
  storeId: string;
  currency: string;
  items: Pick<Item, "sku" | "name" | "quantity" | "total">[];
  /** For a void: the hash of its { items, total, payments }. */
  mirror: string;
  from: number;
  now: number;
  expiresAt: number;
  voidWindowMs: number;
};

/**
 * A reservation: refused, or the ledger with the hold in it. The same hold
 * again (a retry) keeps its place; with another body it is a conflict once
 * confirmed, and replaces the old reservation while still reserved (that
 * attempt never issued: its terminal now sends something else).
 */
export function reserve(l: Ledger, r: ReserveRequest): LedgerRefusal | Ledger {
  const o = l.original;
  if (o.tenantId !== r.tenantId) return { reason: "original_not_found" };
  const same = l.holds.find((h) => h.id === r.hold);
  if (same?.state === "confirmed") return same.bodyHash === r.bodyHash ? l : { reason: "idempotency_conflict" };
  if (same && same.bodyHash === r.bodyHash) {
    return {
      ...l,
      holds: l.holds.map((h) => (h === same ? { ...h, attempt: h.attempt + 1, expiresAt: r.expiresAt } : h)),
    };
  }
  let claim: Claim;
  if (r.kind === "void") {
    const mirrors = o.kind === "sale" && r.storeId === o.storeId && r.mirror === o.bodyHash;
    if (!mirrors || live(l, r.hold).length > 0) return { reason: "void_not_allowed" };
    if (r.now - o.receivedAt > r.voidWindowMs) return { reason: "void_window_closed" };
    claim = { total: o.total, lines: [] };
  } else {
    if (o.kind !== "sale" || isVoided(l, r.hold) || o.currency !== r.currency)
      return { reason: "original_not_refundable" };
    const c = claimOf(o, r.items);
    if ("reason" in c) return c;
    const left = remaining(l, r.hold);
    for (const x of c.lines) {
      const line = left.lines.get(x.key) as OriginalLine;
      if (x.units > line.quantity || x.amount > line.amount) {
        const i = r.items.findIndex((it) => lineKey(it) === x.key || `n:${it.name}` === x.key);
        return {
          reason: "refund_exceeds_original",
          path: `items.${Math.max(0, i)}`,
          message: `${line.label}: at most ${Math.max(0, line.quantity) / SCALE} more (${Math.max(0, line.amount)} in amount) may be given back`,
        };
      }
    }
    if (c.total > left.total) {
      return {
        reason: "refund_exceeds_original",
        path: "total",
        message: `at most ${Math.max(0, left.total)} more of the original's ${o.total} may be given back`,
      };
    }
    claim = c;
  }
  const hold: Hold = {
    id: r.hold,
    kind: r.kind,
    bodyHash: r.bodyHash,
    claim,
    state: "reserved",
    from: r.from,
    attempt: (same?.attempt ?? 0) + 1,
    expiresAt: r.expiresAt,
  };
  return { ...l, holds: [...l.holds.filter((h) => h.id !== r.hold), hold] };
}

/**
 * The refund was issued: its hold is confirmed with its code. A hold that is
 * gone (released on a stale answer) is put back as confirmed: what was issued
 * counts, whatever the ledger thought.
 */
export function confirm(
  l: Ledger,
  c: { hold: string; kind: "refund" | "void"; claim?: Claim; issued: NonNullable<Hold["issued"]>; from: number },
): Ledger {
  const h = l.holds.find((x) => x.id === c.hold);
  const base: Hold = h ?? {
    id: c.hold,
    kind: c.kind,
    bodyHash: "",
    claim: c.claim ?? { total: c.issued.total, lines: [] },
    state: "confirmed",
    from: c.from,
    attempt: 0,
    expiresAt: 0,
  };
  const confirmed: Hold = { ...base, state: "confirmed", issued: c.issued };
  return { ...l, holds: [...l.holds.filter((x) => x.id !== c.hold), confirmed] };
}

/** The refund was not issued: its reservation goes, unless it was confirmed or reserved again since `attempt`. */
export function release(l: Ledger, hold: string, attempt?: number): Ledger {
  const h = l.holds.find((x) => x.id === hold);
  if (!h || h.state === "confirmed" || (attempt !== undefined && h.attempt !== attempt)) return l;
  return { ...l, holds: l.holds.filter((x) => x !== h) };
}

/** The earliest time a reserved hold needs looking into (null: none reserved). */
export function nextExpiry(l: Ledger): number | null {
  const times = l.holds.filter((h) => h.state === "reserved").map((h) => h.expiresAt);
  return times.length ? Math.min(...times) : null;
}

/** What verify tells about a sale: its confirmed refunds, in the order they were issued, and its void. */
export function summary(l: Ledger): {
  refunds: { code: string; total: number; receivedAt: string }[];
  refundedTotal: number;
  voidedBy: string | null;
} {
  const done = l.holds.filter((h) => h.state === "confirmed" && h.issued);
  const refunds = done
    .filter((h) => h.kind === "refund")
    .map((h) => h.issued as NonNullable<Hold["issued"]>)
    .sort((a, b) => (a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : a.code < b.code ? -1 : 1));
  return {
    refunds,
    refundedTotal: refunds.reduce((s, r) => s + r.total, 0),
    voidedBy: done.find((h) => h.kind === "void")?.issued?.code ?? null,
  };
}
