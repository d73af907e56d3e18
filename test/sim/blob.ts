/**
 * The one blob of a simulated run, shared by every node: a thousand nodes
 * cannot each hold or hash a GiB. Piece i's bytes are one Uint8Array for the
 * whole run (so "verifying" a piece from a peer is an identity check), and
 * the piece digests and the whole digest are computed once, here.
 */
import { choosePieceSize, createSha256, pieceCount, pieceLength, sha256 } from '../../src/content/index.js'
import { Rng } from './network.js'

/**
 * Pseudo-random bytes at the head of each piece; the rest stays zero. Every
 * piece still has its real length (the origin path checks byte counts and
 * the network charges by length) and its own digest, but untouched zero
 * pages of a big buffer are never resident, so a 1 GiB blob costs
 * megabytes of memory, not a GiB.
 */
export const CONTENT_CAP = 64 * 1024

export class SimBlob {
  readonly size: number
  readonly pieceSize: number
  readonly n: number
  /** `sha256:<hex>` of the whole blob. */
  readonly digest: string
  readonly hex: string
  readonly pieceDigests: Uint8Array[] = []
  readonly #pieces: Uint8Array[] = []

  constructor (size: number, seed: number) {
    this.size = size
    this.pieceSize = choosePieceSize(size)
    this.n = pieceCount(size, this.pieceSize)
    const whole = createSha256()
    for (let i = 0; i < this.n; i++) {
      const bytes = makePiece(pieceLength(size, this.pieceSize, i), seed, i)
      this.#pieces.push(bytes)
      this.pieceDigests.push(sha256(bytes))
      whole.update(bytes)
    }
    this.hex = whole.digest('hex')
    this.digest = `sha256:${this.hex}`
  }

  /** The one shared buffer of piece i (never mutate it). */
  piece (i: number): Uint8Array { return this.#pieces[i] }

  /** Bytes [start, end) as views of the shared pieces. */
  * slices (start: number, end: number): Generator<Uint8Array> {
    for (let off = start; off < end;) {
      const i = Math.floor(off / this.pieceSize)
      const from = off - i * this.pieceSize
      const to = Math.min(this.#pieces[i].byteLength, end - i * this.pieceSize)
      yield this.#pieces[i].subarray(from, to)
      off += to - from
    }
  }
}

function makePiece (length: number, seed: number, index: number): Uint8Array {
  const bytes = new Uint8Array(length) // zero-filled: pages past the head are never touched
  const rng = new Rng((seed * 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b))
  const head = Math.min(length, CONTENT_CAP) & ~3
  const words = new Uint32Array(bytes.buffer, 0, head / 4)
  for (let k = 0; k < words.length; k++) words[k] = rng.next() * 4294967296
  for (let k = head; k < Math.min(length, CONTENT_CAP); k++) bytes[k] = rng.int(256)
  return bytes
}
