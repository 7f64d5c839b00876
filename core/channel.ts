/**
 * The terminal channel's session (contract: docs/api.md "Terminal channel"):
 * who is on a socket, as the Worker hands it to the shard at connect time and
 * the shard keeps it on the socket across hibernation.
 */
import { z } from "zod";

/** The header the Worker passes the session in (only the Worker reaches a shard's fetch). */
export const CHANNEL_SESSION_HEADER = "x-tillproof-channel-session";

export const channelSessionSchema = z.strictObject({
  shard: z.number().int().min(0),
  /** The terminal token's hash: the shard authenticates it on connect and on every message. */
  tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Where printed verify links point, and the origin the terminal called. */
  baseUrl: z.string().min(1),
  origin: z.string().min(1),
});

export type ChannelSession = z.infer<typeof channelSessionSchema>;

/** Close codes a terminal may see (besides 1000, 1001 and 1011). */
export const CLOSE = {
  /** The token is unknown or revoked, or its tenant disabled: do not reconnect with it. */
  unauthorized: 4001,
  /** Another socket of the same terminal connected; this one is closed. */
  replaced: 4009,
} as const;
