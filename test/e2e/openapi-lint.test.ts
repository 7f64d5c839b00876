/**
 * The document /openapi.json serves passes `redocly lint` (recommended rules)
 * with no error: what a client generator needs (operationIds, security on
 * every operation, servers, valid examples). The same as `npm run lint:api`.
 */
import { expect, it } from "vitest";
import { lintDocument, servedDocument } from "../../scripts/lint-openapi.ts";

it("redocly lint finds no error in the served document", async () => {
  const { status, output } = await lintDocument(await servedDocument());
  expect(output).toContain("valid");
  expect(output).not.toMatch(/\berror\b/);
  expect(status).toBe(0);
}, 120_000);
