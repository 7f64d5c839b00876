import { describe, expect, it } from "vitest";
import { readConfig } from "./config.ts";

describe("config", () => {
  it("has one default for every setting, the same the docs and wrangler.toml give", () => {
    const { config, problems } = readConfig({});
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      SHARD_COUNT: 256,
      FLUSH_MS: 250,
      COMMIT_HOLD_MS: 10,
      CHECKPOINT_MS: 1_000,
      STORE_MAX_RPS: 200,
      OUTBOX_LIMIT: 2_000_000,
      PUBLIC_RPS: 20,
      CODE_FORMAT: "v2",
      LEGACY_CREDENTIALS: "off",
      VERIFY_EDGE_CACHE: "on",
    });
  });

  it("reads strings as wrangler passes them, and bounds them", () => {
    const { config, problems } = readConfig({ SHARD_COUNT: "1024", PUBLIC_RPS: "0", CODE_FORMAT: "v1" });
    expect(problems).toEqual([]);
    expect([config.SHARD_COUNT, config.PUBLIC_RPS, config.CODE_FORMAT]).toEqual([1024, 0, "v1"]);
  });

  it("names a value that does not validate, and keeps that setting's default", () => {
    const { config, problems } = readConfig({ FLUSH_MS: "fast", SHARD_COUNT: "100000", VERIFY_EDGE_CACHE: "yes" });
    expect(config.FLUSH_MS).toBe(250);
    expect(config.SHARD_COUNT).toBe(256);
    expect(config.VERIFY_EDGE_CACHE).toBe("on");
    expect(problems.map((p) => p.split("=")[0])).toEqual(["SHARD_COUNT", "FLUSH_MS", "VERIFY_EDGE_CACHE"]);
  });

  it("reads an env object once", () => {
    const vars = { FLUSH_MS: "100" };
    expect(readConfig(vars)).toBe(readConfig(vars));
  });
});
