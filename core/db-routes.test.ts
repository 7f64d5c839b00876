import { describe, expect, it } from "vitest";
import { allDatabases, databaseFor, databasesOf, PRIMARY, parseRoutes, RoutesInvalid } from "./db-routes.ts";

const P = "postgres://p/main";
const A = "postgres://a/r";
const B = "postgres://b/r";
const C = "postgres://c/r";
const table = JSON.stringify([
  {
    since: "2027-01-01",
    databases: [
      { name: "a", shards: "0-1", url: A },
      { name: "b", shards: "2-3", url: B },
    ],
  },
  {
    since: "2027-02-01",
    databases: [
      { name: "a", shards: "0", url: A },
      { name: "c", shards: "1,3", url: C },
      { name: "b", shards: "2", url: B },
    ],
  },
]);
const at = (day: string) => Date.parse(`${day}T12:00:00Z`);

describe("the dated routing table", () => {
  it("puts everything on the primary when unset", () => {
    const r = parseRoutes(P, undefined, 4);
    expect(databaseFor(r, 3, at("2027-05-01"))).toEqual({ name: PRIMARY, url: P });
    expect(databasesOf(r, 3)).toEqual([{ name: PRIMARY, url: P }]);
    expect(allDatabases(r)).toEqual([{ name: PRIMARY, url: P }]);
  });

  it("routes by the received day: old days stay where they were", () => {
    const r = parseRoutes(P, table, 4);
    expect(databaseFor(r, 3, at("2026-12-31")).name).toBe(PRIMARY);
    expect(databaseFor(r, 3, Date.parse("2027-01-01T00:00:00Z")).name).toBe("b");
    expect(databaseFor(r, 3, at("2027-01-31")).name).toBe("b");
    expect(databaseFor(r, 3, at("2027-02-01")).name).toBe("c");
    expect(databaseFor(r, 0, at("2027-03-01")).name).toBe("a");
  });

  it("lists every database that may hold a shard's code, newest layout first, each once", () => {
    const r = parseRoutes(P, table, 4);
    expect(databasesOf(r, 3).map((d) => d.name)).toEqual(["c", "b", PRIMARY]);
    expect(databasesOf(r, 0).map((d) => d.name)).toEqual(["a", PRIMARY]);
    expect(allDatabases(r).map((d) => d.name)).toEqual([PRIMARY, "a", "b", "c"]);
  });

  it.each([
    ["not JSON", "{", /not JSON/],
    [
      "a shard with no database",
      JSON.stringify([{ since: "2027-01-01", databases: [{ name: "a", shards: "0-2", url: A }] }]),
      /shard 3 has no database/,
    ],
    [
      "a shard in two",
      JSON.stringify([
        {
          since: "2027-01-01",
          databases: [
            { name: "a", shards: "0-2", url: A },
            { name: "b", shards: "2-3", url: B },
          ],
        },
      ]),
      /shard 2 is in both/,
    ],
    [
      "a shard out of range",
      JSON.stringify([{ since: "2027-01-01", databases: [{ name: "a", shards: "0-8192", url: A }] }]),
      /outside 0-8191/,
    ],
    [
      "one database under two names",
      JSON.stringify([
        {
          since: "2027-01-01",
          databases: [
            { name: "a", shards: "0-1", url: A },
            { name: "b", shards: "2-3", url: "postgres://other-user:pw@a/r" },
          ],
        },
      ]),
      /"b" is the database "a" under another name/,
    ],
    [
      "the primary under another name",
      JSON.stringify([{ since: "2027-01-01", databases: [{ name: "main", shards: "0-3", url: P }] }]),
      /"main" is the database "primary"/,
    ],
    [
      "layouts out of order",
      JSON.stringify([
        { since: "2027-02-01", databases: [{ name: "a", shards: "0-3", url: A }] },
        { since: "2027-01-01", databases: [{ name: "a", shards: "0-3", url: A }] },
      ]),
      /in order/,
    ],
    [
      "one name, two URLs",
      JSON.stringify([
        { since: "2027-01-01", databases: [{ name: "a", shards: "0-3", url: A }] },
        { since: "2027-02-01", databases: [{ name: "a", shards: "0-3", url: B }] },
      ]),
      /two URLs/,
    ],
    [
      "the primary's name for another URL",
      JSON.stringify([{ since: "2027-01-01", databases: [{ name: "primary", shards: "0-3", url: A }] }]),
      /two URLs/,
    ],
    [
      "a bad day",
      JSON.stringify([{ since: "2027-1-1", databases: [{ name: "a", shards: "0-3", url: A }] }]),
      /YYYY-MM-DD/,
    ],
    [
      "no URL",
      JSON.stringify([{ since: "2027-01-01", databases: [{ name: "a", shards: "0-3", url: "http://x" }] }]),
      /postgres/,
    ],
  ])("refuses %s", (_, raw, message) => {
    expect(() => parseRoutes(P, raw, 4)).toThrow(RoutesInvalid);
    expect(() => parseRoutes(P, raw, 4)).toThrow(message);
  });

  it("accepts shards past SHARD_COUNT (raising it needs no change of the table first); those it leaves out are the primary's", () => {
    const raw = JSON.stringify([
      {
        since: "2027-01-01",
        databases: [
          { name: "a", shards: "0-5", url: A },
          { name: "b", shards: "6-7", url: B },
        ],
      },
    ]);
    const r = parseRoutes(P, raw, 4);
    expect(databaseFor(r, 7, at("2027-01-02")).name).toBe("b");
    expect(databaseFor(r, 9, at("2027-01-02")).name).toBe(PRIMARY);
    expect(parseRoutes(P, raw, 8).layouts).toHaveLength(1);
    expect(() => parseRoutes(P, raw, 9)).toThrow(/shard 8 has no database/);
  });

  it("accepts the primary by its own URL in a layout", () => {
    const r = parseRoutes(
      P,
      JSON.stringify([
        {
          since: "2027-01-01",
          databases: [
            { name: "primary", shards: "0-1", url: P },
            { name: "b", shards: "2-3", url: B },
          ],
        },
      ]),
      4,
    );
    expect(databasesOf(r, 1).map((d) => d.name)).toEqual([PRIMARY]);
    expect(databaseFor(r, 2, at("2027-01-02")).name).toBe("b");
  });
});
