import { describe, expect, it } from "vitest";
import { compact, eventually, fixture, issue, sale, sqlQuery } from "./helpers.ts";

describe("receipt spine", () => {
  it("issues a code and carries the receipt all the way to a Postgres row", async () => {
    const f = await fixture();
    const res = await issue(f.token, sale());
    expect(res.status).toBe(201);
    expect(res.body.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(res.body).toMatchObject({ tenantId: f.tenantId, storeId: f.storeId, terminalId: "till-1", seq: 1 });
    expect(res.body.prevHash).toBe("0".repeat(64));
    expect(res.body.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(res.body.verifyUrl).toBe(`https://tillproof.test/r/${res.body.code}`);

    const [row] = await eventually(async () => {
      const rows = await sqlQuery<{ seq: string; total: string; hash: string }>(
        "SELECT seq, total, hash FROM receipts WHERE code = $1",
        [compact(res.body.code)],
      );
      return rows.length ? rows : null;
    });
    expect(row).toEqual({ seq: "1", total: "680", hash: res.body.hash });
  });
});
