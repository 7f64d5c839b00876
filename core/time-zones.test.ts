import { describe, expect, it } from "vitest";
import { isStoreTimeZone, storeTimeZones } from "./time-zones.ts";

describe("store time zones", () => {
  it("takes IANA names both Postgres and V8 know, exactly as spelled", () => {
    for (const tz of ["Europe/Berlin", "UTC", "Asia/Kolkata", "America/Argentina/Buenos_Aires"])
      expect(isStoreTimeZone(tz), tz).toBe(true);
    // Known to V8's ICU, unknown to Postgres: each would make the consumer's INSERT fail.
    for (const tz of ["AET", "BET", "US/Pacific-New", "IST", "europe/berlin", "+05:30", "UTC+1", ""])
      expect(isStoreTimeZone(tz), tz).toBe(false);
  });

  it("lists only names V8 can format with", () => {
    for (const tz of storeTimeZones()) expect(() => new Intl.DateTimeFormat("en", { timeZone: tz })).not.toThrow();
  });
});
