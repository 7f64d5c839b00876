/** What analytics answers with, as zod schemas: the OpenAPI document and the response types come from them. */
import { z } from "zod";
import { money } from "../../api/responses.ts";

export const salesSeriesSchema = z.object({
  series: z.array(
    z.object({
      start: z.string().meta({ description: "YYYY-MM-DD (store-local day) or the UTC hour's RFC 3339 start" }),
      storeId: z.string(),
      currency: z.string(),
      receipts: z.number().int(),
      gross: money,
      byPayment: z.object({ cash: money, card: money, other: money }),
      byTaxRate: z.record(z.string(), money).meta({ description: "Gross per tax rate; 'none' for items without one" }),
      refunds: z.number().int().meta({ description: "v1.2: refunds issued at this store in this bucket" }),
      refunded: money.meta({ description: "v1.2: what those refunds gave back" }),
      net: money.meta({ description: "v1.2: gross − refunded" }),
    }),
  ),
});

export const topItemsSchema = z.object({
  items: z.array(
    z.object({
      sku: z.string().nullable(),
      name: z.string(),
      quantity: z.number(),
      revenue: money,
      receipts: z.number().int(),
      currency: z.string(),
    }),
  ),
});

export const tenantTotalsSchema = z.object({
  tenants: z.array(z.object({ tenantId: z.string(), currency: z.string(), receipts: z.number().int(), gross: money })),
});
