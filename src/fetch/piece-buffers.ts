/**
 * Piece-sized buffers that a download reuses for its origin requests.
 *
 * Why: a piece read from the origin lives as long as its request (tens to
 * hundreds of milliseconds), long enough for V8 to promote its wrapper out
 * of the young generation; its bytes are then freed only by a full
 * collection. A 1 GiB fetch made 512 such 2 MiB buffers, and 20–35 MiB of
 * them were dead but not yet freed at any moment: the difference between
 * the 128 MiB goal and what was measured (docs/memory.md). Reusing a few
 * buffers makes that garbage nothing.
 *
 * Safe because nothing keeps a piece's bytes once `accept` has resolved:
 * the store copies or writes them before `writePiece` resolves (the
 * BlobStore contract, checked by the store conformance suite), and events
 * carry only sizes.
 */
export class PieceBuffers {
  readonly #free: Buffer[] = []
  readonly #keep: number

  /** Keeps at most `keep` free buffers (the most origin requests a download runs at once). */
  constructor (keep: number) {
    this.#keep = Math.max(0, keep)
  }

  /** A buffer of exactly `size` bytes, its contents undefined. */
  take (size: number): Buffer {
    const i = this.#free.findIndex(b => b.byteLength === size)
    if (i >= 0) return this.#free.splice(i, 1)[0]
    return Buffer.allocUnsafeSlow(size)
  }

  /** Hands a buffer back once nothing reads or writes it any more. */
  give (buf: Buffer): void {
    if (this.#free.length < this.#keep && !this.#free.includes(buf)) this.#free.push(buf)
  }

  /** How many buffers wait to be reused. */
  get free (): number {
    return this.#free.length
  }
}
