import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { reachableByOthers } from "./postgres.ts";

describe("embedded Postgres as root", () => {
  const root = mkdtempSync(resolve(tmpdir(), "tillproof-reach-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("sees that a directory under a home of mode 700 is closed to the postgres user", () => {
    const home = resolve(root, "home");
    const project = resolve(home, "project/.data/pg");
    mkdirSync(project, { recursive: true, mode: 0o755 });
    chmodSync(root, 0o755);
    chmodSync(home, 0o700);
    expect(reachableByOthers(project)).toBe(false);
    chmodSync(home, 0o755);
    expect(reachableByOthers(project)).toBe(true);
    // A path not made yet is judged by the directories that exist.
    expect(reachableByOthers(resolve(home, "not/yet"))).toBe(true);
  });
});
