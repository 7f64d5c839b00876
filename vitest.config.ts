import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Secrets for the test Worker only. */
export const TEST_OPERATOR_TOKEN = "test-operator-token";

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: "unit", include: ["core/**/*.test.ts"], environment: "node" },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                DATABASE_URL: inject("databaseUrl"),
                NEON_WS_PROXY: inject("wsProxy"),
                OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
                CODE_KEY: "test-code-key",
                SHARD_COUNT: "1024",
                FLUSH_MS: "20",
                // Tests edit rows and expect the next read to see it; the cache has its own test.
                VERIFY_EDGE_CACHE: "off",
              },
            },
          })),
        ],
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/global-setup.ts"],
          testTimeout: 30_000,
          fileParallelism: false,
          hookTimeout: 60_000,
        },
      },
      {
        // The receipt page in Debian's Chromium; the test starts Postgres and the Worker itself.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
