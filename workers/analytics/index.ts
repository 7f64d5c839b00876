/**
 * Retail analytics for a tenant (mounted behind requireTenant) and the
 * operator's view across tenants, all read from the rollups (db/analytics.ts).
 */
import { dailyCsv, salesSeries } from "../../core/analytics.ts";
import { dailyTaxRows, salesRows, tenantTotals, topItems } from "../../db/analytics.ts";
import { receiptDbs } from "../http.ts";
import { router } from "../openapi.ts";
import { dailyCsvRoute, itemsRoute, salesRoute, tenantTotalsRoute } from "./routes.ts";

export const analytics = router();

analytics.openapi(salesRoute, async (c) => {
  const { tenantId } = c.req.valid("param");
  const q = c.req.valid("query");
  const { rows, tax } = await salesRows(receiptDbs(c), { tenantId, ...q });
  c.header("Cache-Control", "private, no-store");
  return c.json({ series: salesSeries(rows, tax) }, 200);
});

analytics.openapi(itemsRoute, async (c) => {
  const { tenantId } = c.req.valid("param");
  const q = c.req.valid("query");
  c.header("Cache-Control", "private, no-store");
  return c.json({ items: await topItems(receiptDbs(c), { tenantId, ...q }) }, 200);
});

analytics.openapi(dailyCsvRoute, async (c) => {
  const { tenantId } = c.req.valid("param");
  const q = c.req.valid("query");
  const rows = await dailyTaxRows(receiptDbs(c), {
    tenantId,
    date: q.date,
    ...(q.storeId ? { storeId: q.storeId } : {}),
  });
  const name = ["tillproof", tenantId, q.storeId, q.date].filter(Boolean).join("-");
  return c.body(dailyCsv(q.date, rows), 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="${name}.csv"`,
    "Cache-Control": "private, no-store",
  });
});

analytics.openapi(tenantTotalsRoute, async (c) => {
  const q = c.req.valid("query");
  c.header("Cache-Control", "no-store");
  return c.json({ tenants: await tenantTotals(receiptDbs(c), q.from, q.to) }, 200);
});
