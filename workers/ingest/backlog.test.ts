import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/errors.ts";
import { backlogOf } from "./backlog.ts";

describe("Tillproof-Offline-Backlog", () => {
  it("reads a count, with or without since", () => {
    expect(backlogOf(undefined)).toBeNull();
    expect(backlogOf("0")).toEqual({ count: 0, since: null });
    expect(backlogOf("12; since=2026-12-06T10:00:00+01:00")).toEqual({
      count: 12,
      since: Date.parse("2026-12-06T09:00:00Z"),
    });
  });

  it("refuses what does not parse, as a 400", () => {
    for (const bad of ["", "lots", "-1", "3; since=yesterday", "3; until=2026-12-06T10:00:00Z", "1234567890"]) {
      expect(() => backlogOf(bad), bad).toThrow(ApiError);
    }
  });
});
