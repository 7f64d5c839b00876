/**
 * The one logger: structured JSON lines, one per event, with a level. The
 * Worker's adds the request's id; the shard gets one as a port, so a test
 * keeps its lines instead of spying on the console. ("Log" alone means the
 * transparency log everywhere else.)
 */
export type LogFields = { msg: string } & Record<string, unknown>;
export type LogLevel = "error" | "warn" | "info";
export type Logger = Record<LogLevel, (fields: LogFields) => void>;

const CONSOLE: Record<LogLevel, (line: string) => void> = {
  error: (line) => console.error(line),
  warn: (line) => console.warn(line),
  info: (line) => console.log(line),
};

/** Lines on the console, each ending with `context()`'s fields when it has any (the Worker's request id). */
export function consoleLogger(context: () => Record<string, unknown> | undefined = () => undefined): Logger {
  const write = (level: LogLevel) => (fields: LogFields) =>
    CONSOLE[level](JSON.stringify({ level, ...fields, ...context() }));
  return { error: write("error"), warn: write("warn"), info: write("info") };
}

/** A logger that keeps its lines, for tests. */
export function memoryLogger(): Logger & { lines: ({ level: LogLevel } & LogFields)[] } {
  const lines: ({ level: LogLevel } & LogFields)[] = [];
  const keep = (level: LogLevel) => (fields: LogFields) => void lines.push({ level, ...fields });
  return { lines, error: keep("error"), warn: keep("warn"), info: keep("info") };
}
