import { CID } from 'multiformats/cid'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { ProtocolError, DigestMismatchError } from '../errors.js'
import { digestFromBytes, parseDigest, RAW_CODEC } from './digest.js'
import { createSha256, equalBytes, sha256 } from './hash.js'
import { choosePieceSize, pieceCount, pieceLength } from './pieces.js'
import { PieceMapPB } from './pb/piece-map.js'

/** What a blob is made of: enough to verify every piece on its own. */
export interface PieceMap {
  /** `sha256:<hex>` of the whole blob. */
  readonly digest: string
  readonly size: number
  readonly pieceSize: number
  /** sha256 of each piece, 32 bytes each. */
  readonly pieceDigests: readonly Uint8Array[]
}

/** Largest piece map we accept from a peer: 16 Mi pieces is far beyond any blob. */
export const MAX_PIECE_MAP_BYTES = 4 * 1024 * 1024

export function encodePieceMap (map: PieceMap): Uint8Array {
  return PieceMapPB.encode({
    digest: new Uint8Array(parseDigest(map.digest).bytes),
    size: BigInt(map.size),
    pieceSize: map.pieceSize,
    pieceDigests: map.pieceDigests.map(d => new Uint8Array(d))
  })
}

/** Decodes and checks the shape (not the truth) of a piece map. */
export function decodePieceMap (bytes: Uint8Array): PieceMap {
  if (bytes.byteLength > MAX_PIECE_MAP_BYTES) throw new ProtocolError(`piece map too large: ${bytes.byteLength} bytes`)
  let pb: PieceMapPB
  try {
    pb = PieceMapPB.decode(bytes)
  } catch (err) {
    throw new ProtocolError('malformed piece map', { cause: err })
  }
  const size = Number(pb.size)
  if (!Number.isSafeInteger(size)) throw new ProtocolError('piece map size out of range')
  const digest = digestFromBytes(pb.digest).digest
  let n: number
  try {
    n = pieceCount(size, pb.pieceSize)
  } catch (err) {
    throw new ProtocolError('piece map has an invalid piece size', { cause: err })
  }
  if (pb.pieceDigests.length !== n) {
    throw new ProtocolError(`piece map lists ${pb.pieceDigests.length} piece digests, expected ${n}`)
  }
  if (pb.pieceDigests.some(d => d.byteLength !== 32)) throw new ProtocolError('piece digest is not 32 bytes')
  return { digest, size, pieceSize: pb.pieceSize, pieceDigests: pb.pieceDigests }
}

/** The piece map's own CID: honest peers that hold the blob agree on it. */
export async function pieceMapCid (map: PieceMap): Promise<CID> {
  return CID.createV1(RAW_CODEC, await sha256Hasher.digest(encodePieceMap(map)))
}

export function verifyPiece (map: Pick<PieceMap, 'pieceDigests'>, index: number, bytes: Uint8Array): boolean {
  const want = map.pieceDigests[index]
  return want != null && equalBytes(sha256(bytes), want)
}

/**
 * Builds a piece map from a byte stream in one pass (whole sha256 and piece
 * sha256s together), without holding more than the current chunk.
 */
export class PieceMapBuilder {
  readonly pieceSize: number
  readonly #whole = createSha256()
  #piece = createSha256()
  #inPiece = 0
  #size = 0
  readonly #digests: Uint8Array[] = []

  /** With a known size the piece size follows the rule; else pass one. */
  constructor (pieceSize: number) {
    this.pieceSize = pieceSize
  }

  static forSize (size: number): PieceMapBuilder {
    return new PieceMapBuilder(choosePieceSize(size))
  }

  update (chunk: Uint8Array): void {
    this.#whole.update(chunk)
    this.#size += chunk.byteLength
    let off = 0
    while (off < chunk.byteLength) {
      const take = Math.min(this.pieceSize - this.#inPiece, chunk.byteLength - off)
      this.#piece.update(chunk.subarray(off, off + take))
      this.#inPiece += take
      off += take
      if (this.#inPiece === this.pieceSize) this.#endPiece()
    }
  }

  get size (): number { return this.#size }

  /** Finishes; throws DigestMismatchError if `expected` is given and differs. */
  finish (expected?: string): PieceMap {
    if (this.#inPiece > 0) this.#endPiece()
    const digest = digestFromBytes(new Uint8Array(this.#whole.digest())).digest
    if (expected != null && expected !== digest) {
      throw new DigestMismatchError(`content has digest ${digest}, expected ${expected}`)
    }
    return { digest, size: this.#size, pieceSize: this.pieceSize, pieceDigests: this.#digests }
  }

  #endPiece (): void {
    this.#digests.push(new Uint8Array(this.#piece.digest()))
    this.#piece = createSha256()
    this.#inPiece = 0
  }
}

/** Sanity check of a received piece's length before hashing it. */
export function expectedPieceLength (map: Pick<PieceMap, 'size' | 'pieceSize'>, index: number): number {
  return pieceLength(map.size, map.pieceSize, index)
}
