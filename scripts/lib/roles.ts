/**
 * The Worker's own database role, for local stacks (dev, tests, bench): the
 * migrations create `tillproof_app` without a login; here the owner lets it
 * log in (with the owner's password, if the URL has one) and the Worker gets
 * a URL for it. In production the README's deploy steps do the same on Neon.
 */
import pg from "pg";

export const RUNTIME_ROLE = "tillproof_app";

/** Enables the runtime role's login and returns the URL the Worker should use. */
export async function runtimeUrl(ownerUrl: string): Promise<string> {
  const url = new URL(ownerUrl);
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
