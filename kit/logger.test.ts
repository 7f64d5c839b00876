import { afterEach, describe, expect, it, vi } from "vitest";
import { consoleLogger, memoryLogger } from "./logger.ts";

afterEach(() => vi.restoreAllMocks());

describe("the logger", () => {
  it("writes one JSON line per event, level first and the context last, to the console stream of its level", () => {
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    const out = vi.spyOn(console, "log").mockImplementation(() => {});
    const logger = consoleLogger(() => ({ requestId: "r-1" }));
    logger.error({ msg: "boom", shard: 3 });
    logger.info({ msg: "fine" });
    expect(err.mock.calls).toEqual([['{"level":"error","msg":"boom","shard":3,"requestId":"r-1"}']]);
    expect(out.mock.calls).toEqual([['{"level":"info","msg":"fine","requestId":"r-1"}']]);
  });

  it("adds nothing when there is no context", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    consoleLogger().warn({ msg: "careful" });
    expect(warn.mock.calls).toEqual([['{"level":"warn","msg":"careful"}']]);
  });

  it("keeps lines in memory for tests", () => {
    const logger = memoryLogger();
    logger.warn({ msg: "kept", n: 1 });
    expect(logger.lines).toEqual([{ level: "warn", msg: "kept", n: 1 }]);
  });
});
