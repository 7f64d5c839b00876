/** The Worker's Postgres client: the local tunnel's settings stay on its own connections. */
import { env } from "cloudflare:test";
import { neonConfig } from "@neondatabase/serverless";
import { describe, expect, it } from "vitest";
import { openPg } from "../../db/client.ts";

describe("postgres client", () => {
  it("turns TLS off for the tunnel's connections only, never in the driver's global config", async () => {
    expect(env.NEON_WS_PROXY).toBeTruthy();
    const before = { secure: neonConfig.useSecureWebSocket, proxy: neonConfig.wsProxy };
    const pg = openPg(env);
    try {
      const { rows } = await pg.pool.query<{ one: number }>("SELECT 1 AS one");
      expect(rows[0]?.one).toBe(1);
    } finally {
      await pg.end();
    }
    expect(neonConfig.useSecureWebSocket).toBe(true);
    expect({ secure: neonConfig.useSecureWebSocket, proxy: neonConfig.wsProxy }).toEqual(before);
  });
});
