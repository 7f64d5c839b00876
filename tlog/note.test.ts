import { describe, expect, it } from "vitest";
import {
  formatCheckpoint,
  generateSigningKey,
  openNote,
  parseCheckpoint,
  parseSigningKey,
  parseVerifierKey,
  signNote,
  verifierKeyOf,
} from "./note.ts";

describe("signed notes and checkpoints (C2SP)", () => {
  it("round-trips a checkpoint through sign and open, and a flipped byte fails", async () => {
    const { privateKey, verifierKey } = await generateSigningKey("receipts.example.com/log");
    const signer = await parseSigningKey(privateKey);
    expect(verifierKeyOf(signer)).toBe(verifierKey);
    const verifier = (await parseVerifierKey(verifierKey))!;
    const root = new Uint8Array(32).fill(7);
    const text = formatCheckpoint({ origin: "receipts.example.com/log/3", size: 42, root });
    expect(text).toBe(`receipts.example.com/log/3\n42\n${Buffer.from(root).toString("base64")}\n`);
    const note = await signNote(text, signer);
    expect(note.startsWith(`${text}\n— receipts.example.com/log `)).toBe(true);
    expect(await openNote(note, verifier)).toBe(text);
    expect(parseCheckpoint(text)).toEqual({ origin: "receipts.example.com/log/3", size: 42, root });
    // Flip one byte anywhere in the text or the signature: it must not open.
    for (const at of [0, text.indexOf("42"), note.length - 10]) {
      const flipped = note.slice(0, at) + String.fromCharCode(note.charCodeAt(at) ^ 1) + note.slice(at + 1);
      expect(await openNote(flipped, verifier)).toBeNull();
    }
  });

  it("computes the key ID as SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]", async () => {
    const { verifierKey } = await generateSigningKey("example.com/k");
    const [name, id, body] = verifierKey.match(/^([^+]+)\+([^+]+)\+(.*)$/)!.slice(1) as [string, string, string];
    const raw = Buffer.from(body, "base64");
    const digest = await crypto.subtle.digest("SHA-256", Buffer.concat([Buffer.from(`${name}\n`), raw]));
    expect(Buffer.from(digest).subarray(0, 4).toString("hex")).toBe(id);
    expect(raw[0]).toBe(1);
  });

  it("reads the example key of Go's golang.org/x/mod/sumdb/note documentation", async () => {
    const signer = await parseSigningKey(
      "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    );
    expect(verifierKeyOf(signer)).toBe("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
    // Ed25519 is deterministic, so the documented signed note comes out byte for byte.
    const text =
      "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const note = await signNote(text, signer);
    expect(note).toBe(
      `${text}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
    );
  });

  it("ignores other keys' signatures and rejects a note signed by another key of the same name", async () => {
    const a = await generateSigningKey("log");
    const b = await generateSigningKey("log");
    const text = "log/0\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    const note = await signNote(text, await parseSigningKey(a.privateKey));
    expect(await openNote(note, (await parseVerifierKey(b.verifierKey))!)).toBeNull();
    const cosigned = `${note}— other AAAAAA==\n`;
    expect(await openNote(cosigned, (await parseVerifierKey(a.verifierKey))!)).toBe(text);
  });

  it("co-signs with two keys during a rotation, so a client pinned to either key accepts it", async () => {
    const [old, next] = [await generateSigningKey("log"), await generateSigningKey("log-2027")];
    const text = "log/0\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    const note = await signNote(text, [await parseSigningKey(old.privateKey), await parseSigningKey(next.privateKey)]);
    expect(note.split("\n— ")).toHaveLength(3);
    expect(await openNote(note, (await parseVerifierKey(old.verifierKey))!)).toBe(text);
    expect(await openNote(note, (await parseVerifierKey(next.verifierKey))!)).toBe(text);
  });

  it("rejects malformed keys and checkpoints with a clear message", async () => {
    await expect(parseSigningKey("nonsense")).rejects.toThrow(/LOG_SIGNING_KEY/);
    const { privateKey } = await generateSigningKey("log");
    const wrongId = privateKey.replace(/\+[0-9a-f]{8}\+/, "+00000000+");
    await expect(parseSigningKey(wrongId)).rejects.toThrow(/key id/);
    expect(await parseVerifierKey("log+00000000+AQ==")).toBeNull();
    expect(parseCheckpoint("origin\n01\nAAAA\n")).toBeNull();
    expect(parseCheckpoint("origin\n1\n")).toBeNull();
  });
});
