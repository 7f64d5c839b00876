/** The demo tenant, store and terminal `npm run dev` sets up through the API itself. */
import type { SaleInput } from "../../clients/terminal/index.ts";
import { apiCall } from "./api.ts";

export type Demo = { tenantId: string; tenantKey: string; storeId: string; terminalId: string; terminalToken: string };

/** Reuses the saved demo if its key still works, else makes a new one. */
export async function ensureDemo(base: string, operatorToken: string, saved: Demo | null): Promise<Demo> {
  const store = { name: "Demo Coffee, Mitte", address: "Torstraße 1, Berlin", timezone: "Europe/Berlin" };
  if (saved) {
    const check = await apiCall(
      base,
      "PUT",
      `/v1/tenants/${saved.tenantId}/stores/${saved.storeId}`,
      saved.tenantKey,
      store,
    );
    if (check.status === 200 || check.status === 201) return saved;
  }
  let tenantId = "demo";
  let created = await apiCall(base, "POST", "/v1/tenants", operatorToken, { id: tenantId, name: "Demo Coffee" });
  if (created.status === 409) {
    // The saved key was lost but the tenant exists (e.g. .data/demo.json removed).
    tenantId = `demo-${Date.now().toString(36)}`;
    created = await apiCall(base, "POST", "/v1/tenants", operatorToken, { id: tenantId, name: "Demo Coffee" });
  }
  if (created.status !== 201) throw new Error(`could not create the demo tenant: ${JSON.stringify(created.body)}`);
  const tenantKey = String(created.body?.apiKey);
  const storeId = "berlin-mitte";
  const s = await apiCall(base, "PUT", `/v1/tenants/${tenantId}/stores/${storeId}`, tenantKey, store);
  if (s.status !== 201 && s.status !== 200)
    throw new Error(`could not create the demo store: ${JSON.stringify(s.body)}`);
  const t = await apiCall(base, "POST", `/v1/tenants/${tenantId}/stores/${storeId}/terminals`, tenantKey, {
    id: "till-1",
    label: "Front counter",
  });
  if (t.status !== 201) throw new Error(`could not register the demo terminal: ${JSON.stringify(t.body)}`);
  await apiCall(base, "PUT", `/v1/tenants/${tenantId}/branding`, tenantKey, {
    displayName: "Demo Coffee",
    primaryColor: "#6b3e26",
    accentColor: "#f2c14e",
    receiptFooter: "Thank you for visiting Demo Coffee!",
    supportUrl: "https://example.com/support",
  });
  return { tenantId, tenantKey, storeId, terminalId: "till-1", terminalToken: String(t.body?.token) };
}

export function demoSale(): SaleInput {
  return {
    issuedAt: new Date().toISOString(),
    currency: "EUR",
    items: [
      { name: "Flat white", sku: "FW", quantity: 2, unitPrice: 380, taxRate: 7, total: 760 },
      { name: "Almond croissant", quantity: 1, unitPrice: 295, taxRate: 7, total: 295 },
    ],
    total: 1055,
    payments: [{ method: "card", amount: 1055 }],
  };
}
