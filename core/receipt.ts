/**
 * A sale as a terminal submits it, the rules it must satisfy, and the record the
 * chain hashes. Pure: no I/O, no clock (callers pass the time in).
 */
import { z } from "zod";
import { containsCardNumber } from "./luhn.ts";
import { type OfflineProof, offlineSchema } from "./offline.ts";
import { textField } from "./text.ts";

/** Largest amount we accept, in minor units (10 billion units of a currency). */
export const MAX_AMOUNT = 1_000_000_000_000;
export const MAX_ITEMS = 500;
/** No receipt predates this; an earlier date is a terminal clock that was never set. */
export const EARLIEST_ISSUED_AT = Date.parse("2000-01-01T00:00:00Z");
/** A receipt may be issued at most this far in the future (terminal clock skew). */
export const MAX_CLOCK_SKEW_MS = 60 * 60 * 1000;

/** What a receipt records: a sale, money given back (refund), or a sale cancelled at the till (void). */
export const RECEIPT_KINDS = ["sale", "refund", "void"] as const;
export type ReceiptKind = (typeof RECEIPT_KINDS)[number];

const CURRENCIES = new Set(Intl.supportedValuesOf("currency"));

const amount = z.number().int().min(0).max(MAX_AMOUNT);

export const itemSchema = z
  .strictObject({
    name: textField(200),
    sku: textField(64).optional(),
    quantity: z.number().positive().max(1_000_000),
    unitPrice: amount,
    taxRate: z.number().min(0).max(100).optional(),
    total: amount,
  })
  .meta({ id: "Item" });

export const paymentSchema = z
  .strictObject({
    method: z.enum(["cash", "card", "other"]),
    amount: z.number().int().positive().max(MAX_AMOUNT),
  })
  .meta({ id: "Payment" });

export const receiptInputSchema = z
  .strictObject({
    issuedAt: z.iso
      .datetime({ offset: true })
      .refine((t) => Date.parse(t) >= EARLIEST_ISSUED_AT, "must not be before 2000-01-01"),
    currency: z.string().refine((c) => CURRENCIES.has(c), "must be an ISO 4217 currency code"),
    items: z.array(itemSchema).min(1).max(MAX_ITEMS),
    total: amount,
    payments: z.array(paymentSchema).min(1).max(20),
    cashier: textField(100).optional(),
    kind: z.enum(RECEIPT_KINDS).optional().meta({ description: "sale (the default), refund or void (v1.2)" }),
    refersTo: z
      .string()
      .optional()
      .meta({ description: "The original sale's code: required for a void, optional for a refund" }),
    reason: textField(200)
      .optional()
      .meta({ description: "Why money went back: required for a refund without refersTo" }),
    offline: offlineSchema.optional(),
  })
  .meta({ id: "Sale", description: "A sale (or refund, or void) as the terminal sends it: amounts in minor units" });

export type ReceiptInput = z.infer<typeof receiptInputSchema>;
export type Item = z.infer<typeof itemSchema>;
export type Payment = z.infer<typeof paymentSchema>;

export const idempotencyKeySchema = z
  .string({ error: "is required" })
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1–64 characters [A-Za-z0-9_-]")
  .meta({ description: "Your id for this sale: a retry with the same key and body gets the same receipt" });

/** One thing wrong with a field: its dotted path and what is wrong, in words for the client. */
export type FieldProblem = { path: string; message: string };

export const zodProblems = (error: z.ZodError): FieldProblem[] =>
  error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));

/**
 * A receipt the rules refuse, in domain words: `invalid` (schema or sums) or
 * `card_data` (a payment-card number in a text field). api/errors.ts turns it
 * into the client's 400.
 */
export class ReceiptRefused extends Error {
  readonly reason: "invalid" | "card_data";
  readonly problems: FieldProblem[];
  constructor(reason: "invalid" | "card_data", message: string, problems: FieldProblem[]) {
    super(message);
    this.name = "ReceiptRefused";
    this.reason = reason;
    this.problems = problems;
  }
}

/** The sums a receipt must satisfy, as field problems (empty when it adds up). */
export function arithmeticErrors(r: ReceiptInput, now: number): FieldProblem[] {
  const out: FieldProblem[] = [];
  let itemSum = 0;
  r.items.forEach((item, i) => {
    const expected = Math.round(item.quantity * item.unitPrice);
    if (item.total !== expected) {
      out.push({ path: `items.${i}.total`, message: `must be round(quantity × unitPrice) = ${expected}` });
    }
    itemSum += item.total;
  });
  if (r.total !== itemSum) out.push({ path: "total", message: `must equal the sum of item totals (${itemSum})` });
  const paid = r.payments.reduce((s, p) => s + p.amount, 0);
  if (paid !== r.total) out.push({ path: "payments", message: `must add up to total (${r.total}), not ${paid}` });
  if (Date.parse(r.issuedAt) > now + MAX_CLOCK_SKEW_MS) {
    out.push({ path: "issuedAt", message: "is more than an hour in the future" });
  }
  return out;
}

/** What `kind` asks of `refersTo` and `reason` (contract v1.2 "Refunds and voids"), as field problems. */
export function kindErrors(r: ReceiptInput): FieldProblem[] {
  const kind = r.kind ?? "sale";
  const out: FieldProblem[] = [];
  if (kind === "sale") {
    if (r.refersTo !== undefined) out.push({ path: "refersTo", message: "is only for a refund or a void" });
    if (r.reason !== undefined) out.push({ path: "reason", message: "is only for a refund" });
  } else if (kind === "void") {
    if (r.refersTo === undefined) out.push({ path: "refersTo", message: "is required for a void" });
    if (r.reason !== undefined) out.push({ path: "reason", message: "is only for a refund" });
  } else if (r.refersTo === undefined && r.reason === undefined) {
    out.push({ path: "reason", message: "is required for a refund without refersTo" });
  }
  return out;
}

/** Paths of the text fields that hold a payment-card number. */
export function cardNumberPaths(r: ReceiptInput): string[] {
  const paths: string[] = [];
  r.items.forEach((item, i) => {
    if (containsCardNumber(item.name)) paths.push(`items.${i}.name`);
    if (item.sku && containsCardNumber(item.sku)) paths.push(`items.${i}.sku`);
  });
  if (r.cashier && containsCardNumber(r.cashier)) paths.push("cashier");
  if (r.reason && containsCardNumber(r.reason)) paths.push("reason");
  return paths;
}

/**
 * Validates an already-parsed JSON body: schema, then card data, then arithmetic.
 * Throws ReceiptRefused.
 */
export function parseReceipt(body: unknown, now: number): ReceiptInput {
  const parsed = receiptInputSchema.safeParse(body);
  if (!parsed.success) throw new ReceiptRefused("invalid", "The request body is not valid.", zodProblems(parsed.error));
  return checkReceipt(parsed.data, now);
}

/** The checks past the schema (a route's validator already applied it): card data, then arithmetic. */
export function checkReceipt(receipt: ReceiptInput, now: number): ReceiptInput {
  const cards = cardNumberPaths(receipt);
  if (cards.length) {
    throw new ReceiptRefused(
      "card_data",
      "Payment-card numbers must not be sent to Tillproof.",
      cards.map((path) => ({ path, message: "looks like a payment-card number" })),
    );
  }
  const sums = [...kindErrors(receipt), ...arithmeticErrors(receipt, now)];
  if (sums.length) throw new ReceiptRefused("invalid", "The receipt's amounts do not add up.", sums);
  return receipt;
}

/** The first receipt of every store links to this. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * The record the chain hashes: exactly the fields Postgres stores, so anyone can
 * recompute `hash` from a row. Times are normalized to UTC with milliseconds.
 */
export type ChainRecord = {
  v: 1;
  code: string;
  tenantId: string;
  storeId: string;
  terminalId: string;
  seq: number;
  issuedAt: string;
  receivedAt: string;
  currency: string;
  total: number;
  items: Item[];
  payments: Payment[];
  cashier?: string;
  /** Absent on records issued before v1.2: those are sales, and hash as they always did. */
  kind?: ReceiptKind;
  /** The original's code, as `code` is kept (ungrouped). */
  refersTo?: string;
  reason?: string;
  /** v1.2: signed by the terminal while it could not reach the gateway (docs/offline.md). */
  offline?: OfflineProof;
  /** v1.2: registered more than OFFLINE_MAX_HOURS after the terminal signed it. */
  late?: true;
  prevHash: string;
};

export const kindOf = (r: Pick<ChainRecord, "kind">): ReceiptKind => r.kind ?? "sale";

export function buildRecord(args: {
  input: ReceiptInput;
  code: string;
  tenantId: string;
  storeId: string;
  terminalId: string;
  seq: number;
  receivedAt: number;
  prevHash: string;
  /** The original's code, ungrouped (the Worker parsed `refersTo`). */
  refersTo?: string;
  late?: boolean;
}): ChainRecord {
  const { input } = args;
  const record: ChainRecord = {
    v: 1,
    code: args.code,
    tenantId: args.tenantId,
    storeId: args.storeId,
    terminalId: args.terminalId,
    seq: args.seq,
    issuedAt: new Date(input.issuedAt).toISOString(),
    receivedAt: new Date(args.receivedAt).toISOString(),
    currency: input.currency,
    total: input.total,
    items: input.items,
    payments: input.payments,
    prevHash: args.prevHash,
  };
  if (input.cashier !== undefined) record.cashier = input.cashier;
  record.kind = input.kind ?? "sale";
  if (args.refersTo !== undefined) record.refersTo = args.refersTo;
  if (input.reason !== undefined) record.reason = input.reason;
  if (input.offline !== undefined) {
    const { terminalSeq, signedAt, signature } = input.offline;
    record.offline = { terminalSeq, signedAt, signature };
    if (args.late) record.late = true;
  }
  return record;
}

/**
 * What issuing settled, in the shard's words: the record's header and its
 * hash. workers/ingest renders it as the API's IssuedReceipt, the same way for
 * a new receipt and for a retry replayed from the shard or from Postgres.
 */
export type Issued = Pick<
  ChainRecord,
  "code" | "tenantId" | "storeId" | "terminalId" | "seq" | "issuedAt" | "receivedAt" | "prevHash"
> & {
  hash: string;
  kind: ReceiptKind;
  refersTo: string | null;
  /** What the signed QR code covers besides the header (null: a reply stored by a release before the ring). */
  currency: string | null;
  total: number | null;
  /** v1.2: an offline receipt registered late. */
  late: boolean;
};

export const issuedOf = (record: ChainRecord, hash: string): Issued => ({
  code: record.code,
  tenantId: record.tenantId,
  storeId: record.storeId,
  terminalId: record.terminalId,
  seq: record.seq,
  issuedAt: record.issuedAt,
  receivedAt: record.receivedAt,
  hash,
  prevHash: record.prevHash,
  kind: kindOf(record),
  refersTo: record.refersTo ?? null,
  currency: record.currency,
  total: record.total,
  late: record.late === true,
});
