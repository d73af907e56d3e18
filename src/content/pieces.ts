import { InvalidRequestError } from '../errors.js'

export const MiB = 1024 * 1024
/** Smallest piece: below ~1 MiB the per-request cost (a stream round trip,
 * a level write, a gossip update) dominates on a 2-core machine. */
export const MIN_PIECE_SIZE = 1 * MiB
/** Largest piece: bounds a response message and a reader's latency to the
 * first verified byte. */
export const MAX_PIECE_SIZE = 16 * MiB
/** Aim for about this many pieces: enough that N peers can each work on
 * their own share, few enough that the piece map stays small (32 B each). */
export const TARGET_PIECES = 512

/**
 * The one piece-size rule: nextPow2(size / 512) clamped to 1–16 MiB.
 * Dragonfly uses nextPow2(size/500) in 4–64 MiB; we go smaller because a
 * swarm of tens of peers needs many pieces per peer in the first wave, and
 * bench/p2p showed 1 MiB pieces already reach the stream's throughput.
 * The size is recorded in every piece map, so the rule may change later
 * without breaking old maps.
 */
export function choosePieceSize (size: number): number {
  checkSize(size)
  const want = Math.ceil(size / TARGET_PIECES)
  let p = MIN_PIECE_SIZE
  while (p < want && p < MAX_PIECE_SIZE) p *= 2
  return p
}

export function pieceCount (size: number, pieceSize: number): number {
  checkSize(size)
  checkPieceSize(pieceSize)
  return Math.ceil(size / pieceSize)
}

/** Byte range [start, end) of piece `index`. */
export function pieceRange (size: number, pieceSize: number, index: number): { start: number, end: number } {
  const n = pieceCount(size, pieceSize)
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new InvalidRequestError(`piece ${index} out of range: the blob has ${n} pieces`)
  }
  const start = index * pieceSize
  return { start, end: Math.min(start + pieceSize, size) }
}

export function pieceLength (size: number, pieceSize: number, index: number): number {
  const { start, end } = pieceRange(size, pieceSize, index)
  return end - start
}

/** Indexes of the pieces that overlap the byte range [start, end). */
export function piecesForRange (size: number, pieceSize: number, start: number, end: number): { first: number, last: number } | undefined {
  if (end <= start || start >= size) return undefined
  return { first: Math.floor(start / pieceSize), last: Math.floor((Math.min(end, size) - 1) / pieceSize) }
}

function checkSize (size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new InvalidRequestError(`invalid blob size ${size}`)
}

function checkPieceSize (p: number): void {
  if (!Number.isSafeInteger(p) || p <= 0 || (p & (p - 1)) !== 0) {
    throw new InvalidRequestError(`invalid piece size ${p}: must be a power of two`)
  }
}
