/**
 * The Worker's own database role, for local stacks (dev, tests, bench): the
 * migrations create `tillproof_app` without a login; here the owner lets it
 * log in (with the owner's password, if the URL has one) and the Worker gets
 * a URL for it. In production the README's deploy steps do the same on Neon.
 */
import pg from "pg";

export const RUNTIME_ROLE = "tillproof_app";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/**
 * Enables the runtime role's login and returns the URL the Worker should use.
 * Only on a server on this machine: roles are cluster-wide, and changing the
 * role's password on a shared server would lock out the Worker deployed there.
 */
export async function runtimeUrl(ownerUrl: string): Promise<string> {
  const url = new URL(ownerUrl);
  if (!LOOPBACK.has(url.hostname)) {
    throw new Error(
      `${url.hostname} is not on this machine: set MIGRATION_DATABASE_URL to its owner's URL and DATABASE_URL to ${RUNTIME_ROLE}'s (see README: Deploying)`,
    );
  }
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const password = decodeURIComponent(url.password);
    await client.query(
      password
        ? `ALTER ROLE ${RUNTIME_ROLE} LOGIN PASSWORD '${password.replaceAll("'", "''")}'`
        : `ALTER ROLE ${RUNTIME_ROLE} LOGIN`,
    );
  } finally {
    await client.end();
  }
  url.username = RUNTIME_ROLE;
  return url.toString();
}
