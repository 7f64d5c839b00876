/**
 * The store time zones Tillproof accepts: IANA names that both Postgres and V8
 * know (migrations/time-zones.json, made by scripts/time-zones.ts and checked
 * against pg_timezone_names by a test). V8 alone knows names Postgres does not
 * (AET, BET, US/Pacific-New …): a store set to one would have every receipt
 * refused by the analytics' `AT TIME ZONE`. Exact names only: no offsets
 * ("+05:30" means the opposite in Postgres), no case folding.
 */
import zones from "../migrations/time-zones.json" with { type: "json" };

const KNOWN: ReadonlySet<string> = new Set(zones);

export const isStoreTimeZone = (tz: string): boolean => KNOWN.has(tz);

export const storeTimeZones = (): readonly string[] => zones;
