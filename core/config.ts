/**
 * The Worker's and the shard's settings: every variable (wrangler.toml [vars]
 * or the environment of `npm run dev`), its default and its bounds, in one
 * zod schema. Read once per env object. A value that does not validate is
 * reported (logs, /healthz) and its default used instead, so a typo in a
 * tuning knob never takes the service down; secrets are checked apart
 * (workers/config-check.ts).
 */
import { z } from "zod";
import { PART_ROWS } from "./archive.ts";
import { MAX_SHARDS } from "./code.ts";

const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
const onOff = (fallback: "on" | "off") => z.enum(["on", "off"]).default(fallback);

export const DEFAULT_LOG_ORIGIN = "tillproof.localhost/log";

export const configSchema = z.object({
  /** Shards new stores are spread over. Raising it never moves an existing store (docs/scale.md §2). */
  SHARD_COUNT: int(256, 1, MAX_SHARDS),
  /** Outbox flush interval in ms (docs/scale.md §4). */
  FLUSH_MS: int(250, 1, 60_000),
  /**
   * Group commit: the longest a lone receipt may hold for company, and only
   * while that pays (kit/group-commit.ts; 0: never). Replaces COMMIT_WINDOW_MS,
   * which is ignored (docs/scale.md §12).
   */
  COMMIT_HOLD_MS: int(10, 0, 50),
  /** A checkpoint is signed at most this many ms after a receipt is issued. */
  CHECKPOINT_MS: int(1_000, 1, 3_600_000),
  /** Receipts a second one store may issue (burst twice that) before 429. */
  STORE_MAX_RPS: int(200, 1),
  /** Unpersisted receipts a shard may hold before ingest answers 503. */
  OUTBOX_LIMIT: int(2_000_000, 1),
  /** Public reads a second per client IP before 429 (0 turns the limit off). */
  PUBLIC_RPS: int(20, 0),
  /** "v1": keep issuing 16-character codes (a staged rollout). */
  CODE_FORMAT: z.enum(["v1", "v2"]).default("v2"),
  /** "on": also accept credentials minted before they carried a tag (a migration only). */
  LEGACY_CREDENTIALS: onOff("off"),
  /** "on": keep persisted verify answers and pages in the edge cache for their max-age. */
  VERIFY_EDGE_CACHE: onOff("on"),
  /** Checkpoint origin prefix: each shard's origin is `<LOG_ORIGIN>/<shard>`. */
  LOG_ORIGIN: z.string().min(1).default(DEFAULT_LOG_ORIGIN),
  /**
   * The witnesses each shard submits its checkpoints to: `<vkey>@<submission URL prefix>`,
   * space-separated (contract v1.2 "Witnessed checkpoints"; empty: none, as in v1.1).
   */
  WITNESSES: z.string().default(""),
  /** How many of WITNESSES must cosign a checkpoint before it is served (default: all of them). */
  WITNESS_QUORUM: z.coerce.number().int().min(0).max(64).optional(),
  /** "on": webhooks may also be http, and to loopback only (local development; core/webhooks.ts). */
  ALLOW_INSECURE_WEBHOOKS: onOff("off"),
  /** Seconds before a failed webhook delivery's first retry; each retry waits twice as long, at most an hour. */
  WEBHOOK_RETRY_BASE_S: int(30, 1, 3_600),
  /** Seconds a webhook delivery is retried before it is marked failed (the contract's "at least 24 h"). */
  WEBHOOK_RETRY_FOR_S: int(86_400, 1),
  /** Seconds after a sale's receivedAt in which its store may void it (contract v1.2). */
  VOID_WINDOW_S: int(900, 0, 86_400),
  /** Hours after its signedAt past which an offline receipt registers as late (contract v1.2). */
  OFFLINE_MAX_HOURS: int(72, 1, 8_760),
  /** Days a terminal certificate is valid from its registration (docs/offline.md). */
  TERMINAL_CERT_DAYS: int(365, 1, 3_650),
  /**
   * Verifier keys (space-separated) of terminal-certificate keys rotated out:
   * certificates and printed QR codes they signed still check (docs/offline.md "Rotating").
   */
  TERMINAL_CERT_RETIRED: z.string().default(""),
  /**
   * Days receipts stay in Postgres: older days are archived to R2 as Parquet and their
   * partitions dropped (docs/archive.md). 0 archives today too (tests and demos only).
   */
  HOT_DAYS: int(7, 0, 3_650),
  /** Receipts in one archived object at most (a part is held in memory while it is written). */
  ARCHIVE_PART_ROWS: int(PART_ROWS, 1, PART_ROWS),
  /**
   * Milliseconds one `POST /v1/ops/archive/{day}` spends writing before it answers `writing`
   * (it writes one part at least, so every call makes progress); the caller calls again.
   */
  ARCHIVE_CALL_MS: int(20_000, 0, 25_000),
  /** Base of the printed verify URL; defaults to the request's origin. */
  PUBLIC_BASE_URL: z.url().optional(),
  /**
   * Where the independent verifier (`npm run build:verifier`) is hosted, by whoever
   * hosts it: the receipt page links to it as `<VERIFIER_URL>?code=<code>`.
   */
  VERIFIER_URL: z.url().optional(),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigVars = Partial<Record<keyof Config, string>>;

/** The settings, and the variables that did not validate (their defaults are used). */
export type ReadConfig = { config: Config; problems: string[] };

const read = new WeakMap<object, ReadConfig>();

export function readConfig(vars: ConfigVars): ReadConfig {
  const cached = read.get(vars);
  if (cached) return cached;
  const shape = configSchema.shape;
  const input: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of Object.keys(shape) as (keyof Config)[]) {
    const raw = vars[key];
    if (raw === undefined || raw === "") continue;
    const one = shape[key].safeParse(raw);
    if (one.success) input[key] = raw;
    else
      problems.push(`${key}=${JSON.stringify(raw)}: ${one.error.issues[0]?.message ?? "invalid"}; using the default`);
  }
  const result = { config: configSchema.parse(input), problems };
  read.set(vars, result);
  return result;
}

/** Just the settings. */
export const config = (vars: ConfigVars): Config => readConfig(vars).config;
