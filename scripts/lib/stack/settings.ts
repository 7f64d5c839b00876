/**
 * The one preset of local settings (core/config.ts names them all) that every
 * local stack starts its Worker with: `npm run dev`, the tests' and tools'
 * stacks (local.ts), the bench and chaos. Each adds only what is its own.
 */

/** Nothing local may wait on the internet: no telemetry, no update checks, no cf fetch. */
export const QUIET_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
} as const;

/** Sets QUIET_ENV in this process where the caller has not chosen otherwise. */
export function quiet(): void {
  for (const [name, value] of Object.entries(QUIET_ENV)) process.env[name] ??= value;
}

export type LocalSettings = {
  /** Postgres as the Worker reaches it: the runtime role, through the tunnel. */
  databaseUrl: string;
  tunnelPort: number;
  operatorToken: string;
  codeKey: string;
  logSigningKey: string;
  logOrigin?: string;
  terminalCertKey?: string;
  /** WITNESSES: the witnesses' entries, when the stack has any. */
  witnesses?: string | null;
};

export function localSettings(s: LocalSettings): Record<string, string> {
  return {
    DATABASE_URL: s.databaseUrl,
    NEON_WS_PROXY: `127.0.0.1:${s.tunnelPort}`,
    OPERATOR_TOKEN: s.operatorToken,
    CODE_KEY: s.codeKey,
    LOG_SIGNING_KEY: s.logSigningKey,
    ...(s.logOrigin ? { LOG_ORIGIN: s.logOrigin } : {}),
    ...(s.terminalCertKey ? { TERMINAL_CERT_KEY: s.terminalCertKey } : {}),
    ...(s.witnesses ? { WITNESSES: s.witnesses } : {}),
  };
}

/**
 * What a stack under test adds: four shards, quick flushes and checkpoints, no
 * edge cache (tests edit rows and read them back), and no per-address limit on
 * the public reads (tests poll verify from one address).
 */
export const QUICK_SETTINGS = {
  SHARD_COUNT: "4",
  FLUSH_MS: "20",
  VERIFY_EDGE_CACHE: "off",
  CHECKPOINT_MS: "50",
  PUBLIC_RPS: "0",
} as const;
