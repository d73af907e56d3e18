/**
 * A BlobStore for one simulated node that keeps have-sets, never bytes: the
 * bytes of every piece are the run's shared SimBlob buffers. Only what the
 * download engine and the simulated transfer server use is implemented; the
 * rest throws, so an engine change that starts using more shows up at once.
 */
import { Bitfield, equalBytes, pieceLength } from '../../src/content/index.js'
import { DigestMismatchError, InvalidRequestError, NotFoundError } from '../../src/errors.js'
import type { BlobInfo, BlobStore } from '../../src/store/types.js'
import type { SimBlob } from './blob.js'

interface Entry { have: Bitfield, complete: boolean, createdAt: number }

function notSimulated (what: string): never {
  throw new Error(`SimStore.${what}: not simulated`)
}

export class SimStore implements BlobStore {
  readonly #blob: SimBlob
  readonly #now: () => number
  #entry?: Entry
  /** Pieces written again while already held (wasted transfers that reached the store). */
  duplicateWrites = 0
  rejectedWrites = 0
  /** Set on a write that was not the shared buffer nor a copy of the right length: an engine bug. */
  badBytes = 0

  constructor (blob: SimBlob, now: () => number) {
    this.#blob = blob
    this.#now = now
  }

  /** Starts as a seeder: the whole blob held and complete. */
  seed (): void {
    const have = new Bitfield(this.#blob.n)
    have.setAll()
    this.#entry = { have, complete: true, createdAt: this.#now() }
  }

  /** The live have-set (no copy): for the simulated server, which answers synchronously. */
  haveNow (digest: string): Bitfield | undefined { return this.#get(digest)?.have }

  get held (): number { return this.#entry?.have.count ?? 0 }
  get isComplete (): boolean { return this.#entry?.complete === true }

  #get (digest: string): Entry | undefined {
    return digest === this.#blob.digest ? this.#entry : undefined
  }

  #must (digest: string): Entry {
    const e = this.#get(digest)
    if (e == null) throw new NotFoundError(`${digest} not in the sim store`)
    return e
  }

  start (): void {}
  stop (): void {}

  async has (digest: string): Promise<boolean> { return this.#get(digest)?.complete === true }

  async stat (digest: string): Promise<BlobInfo | undefined> {
    const e = this.#get(digest)
    if (e == null) return undefined
    const b = this.#blob
    return { digest, size: b.size, pieceSize: b.pieceSize, complete: e.complete, piecesHeld: e.have.count, pieceCount: b.n, pinned: false, createdAt: e.createdAt, lastAccess: this.#now() }
  }

  async delete (digest: string): Promise<boolean> {
    if (this.#get(digest) == null) return false
    this.#entry = undefined
    return true
  }

  async open (digest: string, size: number, pieceSize: number): Promise<Bitfield> {
    if (digest !== this.#blob.digest) notSimulated('open of another blob')
    if (size !== this.#blob.size || pieceSize !== this.#blob.pieceSize) throw new InvalidRequestError(`open ${digest}: wrong shape ${size}/${pieceSize}`)
    this.#entry ??= { have: new Bitfield(this.#blob.n), complete: false, createdAt: this.#now() }
    return this.#entry.have.clone()
  }

  async have (digest: string): Promise<Bitfield | undefined> { return this.#get(digest)?.have.clone() }

  async pieceDigests (digest: string): Promise<Array<Uint8Array | undefined> | undefined> {
    const e = this.#get(digest)
    if (e == null) return undefined
    return this.#blob.pieceDigests.map((d, i) => e.have.get(i) ? d : undefined)
  }

  /**
   * "Verifies" without hashing: the digest given must be piece i's, and the
   * bytes the shared buffer (from a peer) or a copy of the right length
   * (origin bytes, which the engine hashed itself to get that digest).
   */
  async writePiece (digest: string, index: number, bytes: Uint8Array, pieceDigest: Uint8Array): Promise<void> {
    const e = this.#must(digest)
    const b = this.#blob
    if (index < 0 || index >= b.n) throw new InvalidRequestError(`piece ${index} out of range`)
    const known = b.pieceDigests[index]
    if (pieceDigest !== known && !equalBytes(pieceDigest, known)) {
      this.rejectedWrites++
      throw new DigestMismatchError(`piece ${index}: digest mismatch`)
    }
    if (bytes !== b.piece(index) && bytes.byteLength !== pieceLength(b.size, b.pieceSize, index)) {
      this.badBytes++
      throw new DigestMismatchError(`piece ${index}: ${bytes.byteLength} bytes, not the piece`)
    }
    if (!e.have.set(index)) this.duplicateWrites++
  }

  async complete (digest: string): Promise<BlobInfo> {
    const e = this.#must(digest)
    if (!e.have.full) throw new DigestMismatchError(`${digest}: ${e.have.count}/${this.#blob.n} pieces held at complete()`)
    e.complete = true
    return (await this.stat(digest))!
  }

  async readPiece (digest: string, index: number, options: { offset?: number, length?: number } = {}): Promise<Uint8Array> {
    if (this.#must(digest).have.get(index) !== true) throw new NotFoundError(`piece ${index} not held`)
    const bytes = this.#blob.piece(index)
    const offset = options.offset ?? 0
    return bytes.subarray(offset, offset + (options.length ?? bytes.byteLength))
  }

  async * read (digest: string, range: { offset?: number, length?: number } = {}): AsyncIterable<Uint8Array> {
    const e = this.#must(digest)
    const start = range.offset ?? 0
    const end = Math.min(this.#blob.size, range.length != null ? start + range.length : this.#blob.size)
    for (let i = Math.floor(start / this.#blob.pieceSize); i * this.#blob.pieceSize < end; i++) {
      if (!e.have.get(i)) throw new NotFoundError(`piece ${i} not held`)
    }
    yield * this.#blob.slices(start, end)
  }

  async list (): Promise<BlobInfo[]> { notSimulated('list') }
  async pieceMap (): Promise<undefined> { notSimulated('pieceMap') }
  async import (): Promise<never> { notSimulated('import') }
  // Bookkeeping calls a reader or the node may make around reads: harmless to accept.
  acquire (): () => void { return () => {} }
  async pin (): Promise<void> { notSimulated('pin') }
  async touch (): Promise<void> {}
  usage (): { bytes: number, blobs: number, quota: number } { return { bytes: 0, blobs: this.#entry == null ? 0 : 1, quota: Infinity } }
  async gc (): Promise<{ evicted: string[], freedBytes: number }> { notSimulated('gc') }
}
