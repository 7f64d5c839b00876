import { describe, expect, it } from "vitest";
import { describeError, stackFrames } from "./describe-error.ts";

describe("describeError", () => {
  it("keeps the error's name, SQLSTATE and message, and drops the statement and its parameters", () => {
    const pg = Object.assign(
      new Error('duplicate key value violates unique constraint "x"\nDETAIL: Key (code)=(ABC) exists.'),
      {
        code: "23505",
      },
    );
    expect(describeError(pg)).toBe('Error 23505: duplicate key value violates unique constraint "x"');
    const drizzle = new Error("Failed query: SELECT * FROM receipts WHERE code = $1\nparams: 7K3M0QX29TBD4HFA", {
      cause: Object.assign(new Error("connection refused"), { code: "ECONNREFUSED" }),
    });
    const text = describeError(drizzle);
    expect(text).toBe("Error: query failed (cause: Error ECONNREFUSED: connection refused)");
    expect(text).not.toContain("7K3M");
    expect(describeError("plain text\nwith data")).toBe("plain text");
  });

  it("gives the stack's frames without its message line", () => {
    const frames = stackFrames(new Error("secret 4111111111111111"));
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.join(" ")).not.toContain("4111");
  });
});
