/**
 * `Tillproof-Offline-Backlog: <count>[; since=<RFC 3339>]`: what a terminal
 * says it still holds unsent (its offline receipts, and since when), on any
 * ingest request. The operator's console and /metrics show it (docs/offline.md).
 * A header that does not parse is the client's mistake: 400, never ignored.
 */
import { validationFailed } from "../../api/errors.ts";
import type { BacklogReport } from "../../durable-objects/offline.ts";

const FORM = /^\s*(\d{1,9})\s*(?:;\s*since=([^\s;]+)\s*)?$/;

export function backlogOf(header: string | undefined): BacklogReport | null {
  if (header === undefined) return null;
  const m = FORM.exec(header);
  const since = m?.[2] === undefined ? null : Date.parse(m[2]);
  if (!m || (since !== null && Number.isNaN(since))) {
    throw validationFailed(
      [{ path: "header.tillproof-offline-backlog", message: "must be <count>[; since=<RFC 3339 time>]" }],
      "The Tillproof-Offline-Backlog header is malformed.",
    );
  }
  return { count: Number(m[1]), since };
}
