import { describe, expect, it } from "vitest";
import { decodeEntries, encodeEntries, entryBytes } from "./ring.ts";

// A row as every release since the ring wrote it: one-letter keys, in this order.
const stored = '[{"c":1,"h":"aa","r":"{\\"code\\":\\"X\\"}","f":"ff","b":"bb"},{"c":2,"h":"cc","r":"{}"}]';

describe("ring rows", () => {
  it("decode to readable entries and encode back to the same bytes", () => {
    const entries = decodeEntries(stored);
    expect(entries).toEqual([
      { counter: 1, hash: "aa", record: '{"code":"X"}', keyHash: "ff", bodyHash: "bb" },
      { counter: 2, hash: "cc", record: "{}" },
    ]);
    expect(encodeEntries(entries)).toBe(stored);
  });

  it("counts an entry's bytes as the row stores it", () => {
    const [first] = decodeEntries(stored);
    if (!first) throw new Error("no entry");
    expect(entryBytes(first)).toBe(new TextEncoder().encode(JSON.stringify(JSON.parse(stored)[0])).length);
    expect(entryBytes({ counter: 3, hash: "dd", record: "ü" })).toBe('{"c":3,"h":"dd","r":"ü"}'.length + 1);
  });
});
