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
  ])("rejects %s", (_, value) => {
    expect(field.safeParse(value).success).toBe(false);
  });
});
