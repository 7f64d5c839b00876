/** The alerting rules, checked and unit-tested by Prometheus's own promtool (Debian: apt-get install prometheus). */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const PROMTOOL = process.env.PROMTOOL_PATH ?? "promtool";
const dir = resolve(import.meta.dirname);

function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(PROMTOOL, args, { cwd: dir, encoding: "utf8" });
  if (r.error)
    throw new Error(`promtool not found (${r.error.message}): apt-get install prometheus, or set PROMTOOL_PATH`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("ops/alerts.yml", () => {
  it("is valid, and each alert fires on the series that should raise it (promtool test rules)", () => {
    const check = promtool("check", "rules", "alerts.yml");
    expect(check.out).toContain("SUCCESS: 19 rules found");
    const test = promtool("test", "rules", "alerts.test.yml");
    expect(test.status, test.out).toBe(0);
  });
});
