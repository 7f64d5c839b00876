import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkPrinted } from "./verify-qr.ts";

// The vectors of core/offline.test.ts: the gateway's key from seed 00..1f, as a signed-note vkey.
const GATEWAY_PUB = Buffer.from("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=", "base64");
const vkey = (name: string, pub: Buffer) => {
  const raw = Buffer.concat([Buffer.from([0x01]), pub]);
  const id = createHash("sha256")
    .update(Buffer.concat([Buffer.from(`${name}\n`), raw]))
    .digest()
    .subarray(0, 4)
    .toString("hex");
  return `${name}+${id}+${raw.toString("base64")}`;
};
const GATEWAY = vkey("gateway.test", GATEWAY_PUB);
const OTHER = vkey("other.test", Buffer.alloc(32, 7));
const OFFLINE =
  "https://r.example/o#eyJ2IjoxLCJ0IjoiYWNtZSIsInMiOiJiZXJsaW4tMSIsImQiOiJ0aWxsLTEiLCJuIjo3LCJhIjoiMjAyNi0xMi0wNlQxMDowMDowMCswMTowMCIsImMiOiJFVVIiLCJtIjoyNTAsImgiOiIxOGUyZTU3ZGNlYjIwOTc2NjQ0OWI3MzkzZmFhMmY5Njc1ZWQxNTcyMzYyNjIzNTZlYTMxNmZjNzBiMzcxOGFiIiwiayI6IktheTY0VUc4eXZDeUxocVUwMDBMeHpZZVVtMEwvaExJbDVTOGt5S1diZGM9IiwieCI6IjAzL1RnRXZQMEVOZ0FOSlQ2YVJZK3AvNFI3c01MOXVpVGJGY3I3bk1hL2c4SjA3MEUrUGdHczUra1NpVkk4WjVCS3Y0RXRtOHZLWnh6N3ZUVnJiT0RBPT0iLCJlIjoiMjAyNy0xMi0wNlQwMDowMDowMC4wMDBaIiwiZyI6ImNzTUJSdFpuaW1BcnRhUVpibFFJY2lkaERaYWM4QkdrakFrWW5ZSlN3M3duVUxvTHYra2FLR0FtcXBPWlF0RktDOU8zL3V1cmJnTzdLaFA3bFRESEJnPT0ifQ";

describe("npm run verify:qr's check", () => {
  it("passes an offline receipt with the pinned key, and fails it with another", async () => {
    const good = await checkPrinted(OFFLINE, [GATEWAY]);
    expect(good).toMatchObject({ kind: "offline", ok: true });
    expect(good.lines.join("\n")).toContain("offline receipt 7 of acme/berlin-1/till-1");
    const wrong = await checkPrinted(OFFLINE, [OTHER]);
    expect(wrong.ok).toBe(false);
    expect(wrong.lines[1]).toMatch(/^FAIL certificate/);
    expect(wrong.lines[2]).toMatch(/^ok {3}signature/); // the till's own signature still holds
  });

  it("says when the text is no Tillproof payload or a key is not a key", async () => {
    expect(await checkPrinted("https://example.com/", [GATEWAY])).toMatchObject({ kind: "unreadable", ok: false });
    expect(await checkPrinted(OFFLINE, ["nonsense"])).toMatchObject({ kind: "unreadable", ok: false });
  });
});
