/**
 * Retail analytics for a tenant (mounted behind requireTenant) and the
 * operator's view across tenants, all read from the rollups (db/analytics.ts).
 */
import { Hono } from "hono";
import { dailyCsv, dailyExportQuery, dateRange, itemsQuery, salesQuery, salesSeries } from "../../core/analytics.ts";
import { slug } from "../../core/ids.ts";
import { dailyTaxRows, salesRows, tenantTotals, topItems } from "../../db/analytics.ts";
import { type AppEnv, param, pg, readQuery, requireOperator } from "../http.ts";

export const analytics = new Hono<AppEnv>();

analytics.get("/v1/tenants/:tenantId/analytics/sales", async (c) => {
  const tenantId = param(c, "tenantId", slug);
  const q = readQuery(c, salesQuery);
  const { rows, tax } = await salesRows(pg(c).db, { tenantId, ...q });
  c.header("Cache-Control", "private, no-store");
  return c.json({ series: salesSeries(rows, tax) });
});

analytics.get("/v1/tenants/:tenantId/analytics/items", async (c) => {
  const tenantId = param(c, "tenantId", slug);
  const q = readQuery(c, itemsQuery);
  c.header("Cache-Control", "private, no-store");
  return c.json({ items: await topItems(pg(c).db, { tenantId, ...q }) });
});

analytics.get("/v1/tenants/:tenantId/exports/daily.csv", async (c) => {
  const tenantId = param(c, "tenantId", slug);
  const q = readQuery(c, dailyExportQuery);
  const rows = await dailyTaxRows(pg(c).db, { tenantId, date: q.date, ...(q.storeId ? { storeId: q.storeId } : {}) });
  const name = ["tillproof", tenantId, q.storeId, q.date].filter(Boolean).join("-");
  return c.body(dailyCsv(q.date, rows), 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="${name}.csv"`,
    "Cache-Control": "private, no-store",
  });
});

analytics.get("/v1/ops/analytics/tenants", requireOperator, async (c) => {
  const q = readQuery(c, dateRange);
  c.header("Cache-Control", "no-store");
  return c.json({ tenants: await tenantTotals(pg(c).db, q.from, q.to) });
});
