// src/_sha1.ts against the standard's test vectors and WebCrypto's digest,
// at every length around the block and padding boundaries, for multi-byte
// UTF-8, and for each Lua script the Redis engine sends by its SHA-1.
import assert from "node:assert/strict";
import { sha1Hex } from "../../src/_sha1.ts";
import { SCRIPTS } from "../../src/_redis_scripts.ts";

async function webCrypto(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

Deno.test("sha1Hex gives FIPS 180's test vectors", () => {
  assert.equal(sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  assert.equal(
    sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
  assert.equal(
    sha1Hex("a".repeat(1_000_000)),
    "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
  );
});

Deno.test("sha1Hex agrees with WebCrypto at every length to 300 bytes, in UTF-8, and on every script", async () => {
  for (let length = 0; length <= 300; length++) {
    const text = Array.from(
      { length },
      (_, i) => String.fromCharCode(32 + ((i * 7 + length) % 95)),
    ).join("");
    assert.equal(sha1Hex(text), await webCrypto(text), `length ${length}`);
  }
  for (const text of ["é", "ünïcødé ✓", "🙂".repeat(40)]) {
    assert.equal(sha1Hex(text), await webCrypto(text), text);
  }
  for (const [name, script] of Object.entries(SCRIPTS)) {
    assert.equal(sha1Hex(script), await webCrypto(script), name);
  }
});
