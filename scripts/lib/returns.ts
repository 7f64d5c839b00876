/**
 * Refunds and voids for the simulator: from a sale body it sent and the code
 * it got, the body of a realistic return (one line, often one unit of it) or
 * of a void (the sale unchanged). Pure; `npm run simulate` decides how often.
 */
type Line = { name: string; sku?: string; quantity: number; unitPrice: number; taxRate?: number; total: number };
type SaleBody = { currency: string; items: Line[]; total: number; payments: { method: string; amount: number }[] };

/** A refund of one line of the sale: one unit of it when it sold more than one (`partial`), else all of it. */
export function refundBody(saleJson: string, code: string, pick: number, partial: boolean, now = Date.now()) {
  const sale = JSON.parse(saleJson) as SaleBody;
  const line = sale.items[Math.floor(pick * sale.items.length)] ?? (sale.items[0] as Line);
  const quantity = partial && line.quantity > 1 ? 1 : line.quantity;
  const total = quantity === line.quantity ? line.total : Math.min(line.total, Math.round(quantity * line.unitPrice));
  const item: Line = { ...line, quantity, total, unitPrice: quantity === line.quantity ? line.unitPrice : total };
  return {
    kind: "refund",
    refersTo: code,
    issuedAt: new Date(now).toISOString(),
    currency: sale.currency,
    items: [item],
    total,
    payments: [{ method: sale.payments[0]?.method ?? "cash", amount: total }],
  };
}

/** The void of a sale rung up by mistake: its currency, items, total and payments unchanged. */
export function voidBody(saleJson: string, code: string, now = Date.now()) {
  const { currency, items, total, payments } = JSON.parse(saleJson) as SaleBody;
  return { kind: "void", refersTo: code, issuedAt: new Date(now).toISOString(), currency, items, total, payments };
}
