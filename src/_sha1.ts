// SHA-1 of a string's UTF-8 bytes, in plain synchronous code: the name by
// which Redis caches a Lua script (EVALSHA). Not for security. WebCrypto's
// digest would do, but its first call in a process loads the crypto
// extension, about 20 ms of a `loops --redis` command; this takes
// microseconds for a script of a few KiB (FIPS 180-4, section 6.1).

const ROUND_CONSTANTS = [0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xca62c1d6];

/** Rotates a 32-bit word left by `bits`. */
function rotl(word: number, bits: number): number {
  return ((word << bits) | (word >>> (32 - bits))) >>> 0;
}

/** The SHA-1 of `text` (UTF-8), as 40 lowercase hex digits. */
export function sha1Hex(text: string): string {
  const data = new TextEncoder().encode(text);
  // The message, a 0x80 byte, zeros, and its length in bits (64-bit big
  // endian), in whole blocks of 64 bytes.
  const padded = new Uint8Array(Math.ceil((data.length + 9) / 64) * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = data.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 2 ** 32));
  view.setUint32(padded.length - 4, bits >>> 0);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Uint32Array(80);
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 80; t++) {
      w[t] = rotl(w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!, 1);
    }
    let [a, b, c, d, e] = h as [number, number, number, number, number];
    for (let t = 0; t < 80; t++) {
      const f = t < 20
        ? (b & c) | (~b & d)
        : t < 40 || t >= 60
        ? b ^ c ^ d
        : (b & c) | (b & d) | (c & d);
      const next = (rotl(a, 5) + f + e + ROUND_CONSTANTS[(t / 20) | 0]! +
        w[t]!) >>> 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = next;
    }
    h[0] = (h[0]! + a) >>> 0;
    h[1] = (h[1]! + b) >>> 0;
    h[2] = (h[2]! + c) >>> 0;
    h[3] = (h[3]! + d) >>> 0;
    h[4] = (h[4]! + e) >>> 0;
  }
  return h.map((word) => word.toString(16).padStart(8, "0")).join("");
}
