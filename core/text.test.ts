import { describe, expect, it } from "vitest";
import { textField } from "./text.ts";

describe("textField", () => {
  const field = textField(5);

  it("accepts and trims ordinary text, counting code points", () => {
    expect(field.parse("  Café ")).toBe("Café");
    expect(field.parse("🍵🍵🍵🍵🍵")).toBe("🍵🍵🍵🍵🍵");
  });

  it("allows line breaks only where asked", () => {
    expect(textField(50, { multiline: true }).parse("Thanks!\r\nSee you")).toBe("Thanks!\nSee you");
    expect(textField(50).safeParse("Thanks!\nSee you").success).toBe(false);
  });

  it.each([
    ["empty", "   "],
    ["too long", "abcdef"],
    ["a NUL byte", "a\u0000b"],
    ["a newline", "a\nb"],
    ["an unpaired surrogate", "a\ud800b"],
    ["a right-to-left override", "1\u202e00"],
    ["a left-to-right isolate", "\u2066ab"],
    ["a pop directional isolate", "ab\u2069"],
    ["a right-to-left mark", "a\u200fb"],
    ["a zero-width space", "a\u200bb"],
    ["a word joiner", "a\u2060b"],
    ["a Mongolian vowel separator", "a\u180eb"],
    ["a soft hyphen", "a\u00adb"],
    ["a byte order mark inside", "a\ufeffb"],
  ])("rejects %s", (_, value) => {
    expect(field.safeParse(value).success).toBe(false);
  });

  it("keeps the joiners scripts and emoji need", () => {
    const wide = textField(50);
    expect(wide.safeParse("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645").success).toBe(true); // Persian, ZWNJ
    expect(wide.safeParse("\u{1F468}\u200d\u{1F469}\u200d\u{1F467}").success).toBe(true); // a family emoji, ZWJ
    expect(wide.safeParse("\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}").success).toBe(true); // England's flag
    expect(wide.safeParse("\u0600\u0661\u0662").success).toBe(true); // an Arabic number sign
  });
});
