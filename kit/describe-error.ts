/**
 * Structured logs without the data a request carried. An error is logged as
 * its name, its SQLSTATE if it has one, and its message cut before anything a
 * driver appends about the statement (drizzle's "params: …", the query text),
 * never its stack's first line, which repeats the message.
 */
const DATA_MARKERS = /\n|params:|Failed query:/;

export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return typeof e === "string" ? e.split(DATA_MARKERS)[0]?.trim() || "error" : "error";
  const code = (e as { code?: unknown }).code;
  const cause = e.cause instanceof Error ? ` (cause: ${describeError(e.cause)})` : "";
  const message = e.message.startsWith("Failed query:") ? "query failed" : (e.message.split(DATA_MARKERS)[0] ?? "");
  return `${e.name}${typeof code === "string" ? ` ${code}` : ""}: ${message.trim()}${cause}`;
}

/** Where an error came from in our code: the stack's frames, without its message line. */
export function stackFrames(e: unknown, count = 4): string[] {
  if (!(e instanceof Error) || !e.stack) return [];
  return e.stack
    .split("\n")
    .filter((line) => line.trimStart().startsWith("at "))
    .slice(0, count)
    .map((line) => line.trim());
}
