/** Unsigned LEB128 varint, as libp2p length prefixes use (values here are < 2^32). */
export function encodeVarint (value: number): Uint8Array {
  const out: number[] = []
  let v = value
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
  return Uint8Array.from(out)
}
