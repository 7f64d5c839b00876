/**
 * Realistic sales for the simulator and the bench: 1–30 items (most baskets
 * small), varied names, prices and quantities including weighed goods with
 * fractional kilograms, a tax rate per item, and cash / card / other payments
 * that add up exactly. The arithmetic is the contract's: item total =
 * round(quantity × unitPrice), total = Σ item totals = Σ payments.
 */
import { parseReceipt } from "../../../core/receipt.ts";

/** Small, fast, seedable PRNG (mulberry32), so runs are repeatable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Product = { name: string; price: number; tax: number; weighed?: boolean; sku?: string };

// Prices in cents; tax rates as a German grocery / café would print them (7 % food, 19 % other).
const PRODUCTS: Product[] = [
  { name: "Espresso", price: 250, tax: 19, sku: "CAF-001" },
  { name: "Flat white", price: 380, tax: 19, sku: "CAF-014" },
  { name: "Café crème", price: 320, tax: 19 },
  { name: "Almond croissant", price: 295, tax: 7, sku: "BAK-220" },
  { name: "Brötchen", price: 45, tax: 7, sku: "BAK-001" },
  { name: "Roggenbrot 750 g", price: 389, tax: 7, sku: "40123459" },
  { name: "Vollmilch 3,5 % 1 l", price: 119, tax: 7, sku: "40331120" },
  { name: "Butter 250 g", price: 239, tax: 7 },
  { name: "Äpfel Elstar", price: 299, tax: 7, weighed: true, sku: "PLU-4131" },
  { name: "Bananen", price: 169, tax: 7, weighed: true, sku: "PLU-4011" },
  { name: "Tomaten Rispen", price: 449, tax: 7, weighed: true },
  { name: "Emmentaler am Stück", price: 1590, tax: 7, weighed: true, sku: "KAE-18" },
  { name: "Hähnchenbrust", price: 1299, tax: 7, weighed: true },
  { name: "Mineralwasser 6 × 1,5 l", price: 330, tax: 19, sku: "GET-600" },
  { name: "Pfand 0,25", price: 25, tax: 19 },
  { name: "Spülmittel", price: 145, tax: 19, sku: "DRO-044" },
  { name: "Zahnpasta", price: 195, tax: 19 },
  { name: "Kaffeebohnen 1 kg", price: 1699, tax: 7, sku: "40055531" },
  { name: "Rotwein Rioja 0,75 l", price: 799, tax: 19 },
  { name: "Blumenstrauß", price: 1499, tax: 7 },
  { name: "Batterien AA 4er", price: 549, tax: 19, sku: "ELE-0042" },
  { name: "Tragetasche", price: 20, tax: 19 },
  { name: "Schokolade 100 g", price: 129, tax: 7 },
  { name: "Olivenöl extra vergine 0,5 l", price: 899, tax: 7 },
];

const CASHIERS = ["Anna K.", "Mehmet", "Jo", "Sven 2", "Lena", "Kasse 3"];
const CURRENCIES = ["EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "CHF", "GBP", "SEK", "USD"];

export type Item = { name: string; sku?: string; quantity: number; unitPrice: number; taxRate?: number; total: number };
export type Payment = { method: "cash" | "card" | "other"; amount: number };
export type Sale = {
  issuedAt: string;
  currency: string;
  items: Item[];
  total: number;
  payments: Payment[];
  cashier?: string;
};

/** 1–30 items, skewed small: median ≈ 4, 95th percentile ≈ 17. */
function itemCount(r: () => number): number {
  const n = 1 + Math.floor(-Math.log(1 - r()) * 5);
  return Math.min(30, n);
}

function splitPayments(total: number, r: () => number): Payment[] {
  const x = r();
  if (x < 0.45 || total < 3) return [{ method: "card", amount: total }];
  if (x < 0.8) return [{ method: "cash", amount: total }];
  if (x < 0.93) {
    // part cash, rest card
    const cash = 1 + Math.floor(r() * (total - 1));
    return [
      { method: "cash", amount: cash },
      { method: "card", amount: total - cash },
    ];
  }
  // voucher (other) first, then card and cash for the rest
  const other = 1 + Math.floor(r() * Math.max(1, Math.floor(total / 2)));
  const rest = total - other;
  const card = 1 + Math.floor(r() * (rest - 1));
  return [
    { method: "other", amount: other },
    { method: "card", amount: card },
    { method: "cash", amount: rest - card },
  ];
}

/** One sale issued at `issuedAt` (ms). */
export function makeSale(r: () => number, issuedAt: number): Sale {
  const items: Item[] = [];
  const n = itemCount(r);
  for (let i = 0; i < n; i++) {
    const p = PRODUCTS[Math.floor(r() * PRODUCTS.length)] as Product;
    // Prices drift a little between stores; weighed goods get grams as kg with 3 decimals.
    const unitPrice = Math.max(1, Math.round(p.price * (0.9 + r() * 0.25)));
    const quantity = p.weighed ? Math.round((0.05 + r() * 1.8) * 1000) / 1000 : r() < 0.8 ? 1 : 2 + Math.floor(r() * 5);
    const item: Item = { name: p.name, quantity, unitPrice, total: Math.round(quantity * unitPrice) };
    if (p.sku) item.sku = p.sku;
    if (r() < 0.9) item.taxRate = p.tax;
    items.push(item);
  }
  let total = items.reduce((s, i) => s + i.total, 0);
  if (total === 0) {
    // A basket of only tiny weights can round to 0: add a bag so a payment can be positive.
    items.push({ name: "Tragetasche", quantity: 1, unitPrice: 20, taxRate: 19, total: 20 });
    total = 20;
  }
  const sale: Sale = {
    issuedAt: new Date(issuedAt).toISOString(),
    currency: CURRENCIES[Math.floor(r() * CURRENCIES.length)] as string,
    items,
    total,
    payments: splitPayments(total, r),
  };
  if (r() < 0.6) sale.cashier = CASHIERS[Math.floor(r() * CASHIERS.length)] as string;
  return sale;
}

/**
 * Pre-serialized sales, so the load generator spends almost no CPU building
 * JSON: each request splices a fresh issuedAt (and, in a batch, the entry's
 * idempotencyKey) in front of a stored body.
 */
export class SalePool {
  private readonly rests: string[] = [];
  readonly meanItems: number;
  readonly meanBytes: number;
  constructor(size: number, seed: number) {
    const r = rng(seed);
    const head = '{"issuedAt":"'.length + 24 + 1;
    let items = 0;
    let bytes = 0;
    for (let i = 0; i < size; i++) {
      const sale = makeSale(r, Date.UTC(2026, 0, 1));
      parseReceipt(sale, Date.now()); // the server's own rules: throws if the generator ever drifts from them
      const json = JSON.stringify(sale);
      this.rests.push(json.slice(head));
      items += sale.items.length;
      bytes += json.length;
    }
    this.meanItems = items / size;
    this.meanBytes = bytes / size;
  }
  get size(): number {
    return this.rests.length;
  }
  /** A POST /v1/receipts body. */
  body(i: number, issuedAt: number): string {
    return `{"issuedAt":"${new Date(issuedAt).toISOString()}"${this.rests[i % this.rests.length]}`;
  }
  /** One entry of a POST /v1/receipts/batch body. */
  entry(i: number, key: string, issuedAt: number): string {
    return `{"idempotencyKey":"${key}","issuedAt":"${new Date(issuedAt).toISOString()}"${this.rests[i % this.rests.length]}`;
  }
}
