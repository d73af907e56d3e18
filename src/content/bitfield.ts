/** Set bits per byte value: a have-set is counted per byte, not per bit (one is built per gossip message). */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => { let c = 0; for (let v = b; v !== 0; v &= v - 1) c++; return c })

/**
 * A have-set: bit i set means piece i is held. MSB-first in each byte, as in
 * BitTorrent, so the wire form is familiar.
 */
export class Bitfield {
  readonly length: number
  readonly bytes: Uint8Array
  #count = 0

  constructor (length: number, bytes?: Uint8Array) {
    this.length = length
    this.bytes = new Uint8Array(Math.ceil(length / 8))
    if (bytes != null) {
      this.bytes.set(bytes.subarray(0, this.bytes.length))
      // clear bits past the end so equal sets encode equally
      if (length % 8 !== 0 && this.bytes.length > 0) {
        this.bytes[this.bytes.length - 1] &= 0xff << (8 - (length % 8))
      }
      for (const b of this.bytes) this.#count += POPCOUNT[b]
    }
  }

  get count (): number { return this.#count }
  get full (): boolean { return this.#count === this.length }

  get (i: number): boolean {
    if (i < 0 || i >= this.length) return false
    return (this.bytes[i >> 3] & (0x80 >> (i & 7))) !== 0
  }

  set (i: number): boolean {
    if (i < 0 || i >= this.length || this.get(i)) return false
    this.bytes[i >> 3] |= 0x80 >> (i & 7)
    this.#count++
    return true
  }

  unset (i: number): boolean {
    if (!this.get(i)) return false
    this.bytes[i >> 3] &= ~(0x80 >> (i & 7))
    this.#count--
    return true
  }

  setAll (): void { for (let i = 0; i < this.length; i++) this.set(i) }

  * indexes (): Generator<number> {
    for (let i = 0; i < this.length; i++) if (this.get(i)) yield i
  }

  clone (): Bitfield { return new Bitfield(this.length, this.bytes) }

  /** Would `new Bitfield(n, bytes)` equal this one? (A wire set may be longer, or carry bits past n: the copy trims them.) Compared without a copy: most gossip repeats a have-set unchanged. */
  sameAs (n: number, bytes: Uint8Array): boolean {
    if (this.length !== n) return false
    const mine = this.bytes
    if (bytes.length < mine.length) return false
    const last = mine.length - 1
    for (let b = 0; b < last; b++) if (mine[b] !== bytes[b]) return false
    return last < 0 || mine[last] === (bytes[last] & (n % 8 === 0 ? 0xff : 0xff << (8 - (n % 8))))
  }
}
