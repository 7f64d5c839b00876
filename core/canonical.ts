/** RFC 8785 (JSON Canonicalization Scheme) and the chain's hash over it. */
import canonicalize from "canonicalize";
import { sha256Hex } from "../kit/crypto.ts";

export function canonicalJson(value: unknown): string {
  const out = canonicalize(value);
  if (out === undefined) throw new TypeError("value has no JSON form");
  return out;
}

export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
