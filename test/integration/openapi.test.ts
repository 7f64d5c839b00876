import { describe, expect, it } from "vitest";
import { call } from "./helpers.ts";

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<string, { requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>
  >;
};

describe("GET /openapi.json", () => {
  it("describes every route of the contract, with the request schemas the routes validate with", async () => {
    const res = await call<Doc>("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining([
        "/v1/tenants",
        "/v1/tenants/{tenantId}/stores/{storeId}",
        "/v1/tenants/{tenantId}/stores/{storeId}/terminals",
        "/v1/tenants/{tenantId}/stores/{storeId}/terminals/{terminalId}",
        "/v1/tenants/{tenantId}/keys",
        "/v1/tenants/{tenantId}/branding",
        "/v1/branding/{tenantId}",
        "/v1/receipts",
        "/v1/receipts/batch",
        "/v1/verify/{code}",
        "/r/{code}",
        "/v1/ops/pipeline",
        "/healthz",
      ]),
    );
    const receipt = res.body.paths["/v1/receipts"]?.post?.requestBody?.content["application/json"]?.schema;
    expect(receipt?.required).toEqual(expect.arrayContaining(["issuedAt", "currency", "items", "total", "payments"]));
  });
});
