/**
 * A 32-bit string hash that is the same in every process and on every
 * platform: FNV-1a over the UTF-16 code units (low byte, then high byte),
 * finished with the MurmurHash3 avalanche step so nearby inputs ("a#1",
 * "a#2") land far apart on the ring. Not cryptographic; only for placement.
 */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export function hashString(s: string, seed = 0): number {
  let h = (FNV_OFFSET ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME);
    h = Math.imul(h ^ (c >>> 8), FNV_PRIME);
  }
  return avalanche(h);
}

/** The MurmurHash3 32-bit finaliser: every input bit affects every output bit. */
export function avalanche(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
