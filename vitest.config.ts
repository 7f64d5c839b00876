import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Secrets for the test Worker only. */
export const TEST_OPERATOR_TOKEN = "test-operator-token";
/** A log key for tests only (its verifier key: test/integration/helpers.ts TEST_LOG_VKEY). */
const TEST_LOG_SIGNING_KEY = "PRIVATE+KEY+tillproof.test/log+8010e9c6+AQr7A8WYnP3+2bwt64M6YYO2g4MVCWK94P4bcm3puhbY";

/**
 * The terminal-certificate key for tests, and one "rotated out" before it (its private half is
 * test/integration/helpers.ts TEST_RETIRED_CERT_KEY, to sign what an old key signed).
 */
const TEST_TERMINAL_CERT_KEY =
  "PRIVATE+KEY+tillproof.test-terminals+ca3f83f2+AZsQeIVJIh/W+BbusJ0EQ8pPJGOp1tFaZkuBSCK5aHYb";
const TEST_RETIRED_CERT_VKEY = "tillproof.test-retired+46cc0666+Aef9c2kJMg2fiQ2HCsOeehrltnaxSvEy5U+r8fIIjGAr";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "core/**/*.test.ts",
            "tlog/**/*.test.ts",
            "kit/**/*.test.ts",
            "api/**/*.test.ts",
            "workers/**/*.test.ts",
            "durable-objects/**/*.test.ts",
            "witness/**/*.test.ts",
            "scripts/**/*.test.ts",
            "ops/**/*.test.ts",
          ],
          environment: "node",
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                DATABASE_URL: inject("databaseUrl"),
                TEST_ADMIN_DATABASE_URL: inject("adminDatabaseUrl"),
                NEON_WS_PROXY: inject("wsProxy"),
                OPERATOR_TOKEN: TEST_OPERATOR_TOKEN,
                CODE_KEY: "test-code-key",
                SHARD_COUNT: "1024",
                FLUSH_MS: "20",
                CHECKPOINT_MS: "50",
                // Tests read verify in tight loops from one address; the limit has its own test.
                PUBLIC_RPS: "0",
                LOG_ORIGIN: "tillproof.test/log",
                LOG_SIGNING_KEY: TEST_LOG_SIGNING_KEY,
                TERMINAL_CERT_KEY: TEST_TERMINAL_CERT_KEY,
                TERMINAL_CERT_RETIRED: TEST_RETIRED_CERT_VKEY,
                // The void window, short enough to see it close in a test.
                VOID_WINDOW_S: "5",
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
        // Node tools (the audit) against a whole stack the test starts itself.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
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
