import { OriginError } from '../errors.js'
import type { Origin } from '../origin/types.js'

/** Reads [start, end) from an origin into `out` (end − start bytes: a piece is at most 16 MiB). */
export async function readOriginRange (origin: Origin, start: number, end: number, signal: AbortSignal, out: Uint8Array = Buffer.allocUnsafe(end - start)): Promise<Uint8Array> {
  if (out.byteLength !== end - start) throw new RangeError(`a buffer of ${out.byteLength} bytes cannot hold [${start}, ${end})`)
  let off = 0
  for await (const chunk of origin.read({ start, end }, { signal })) {
    if (off + chunk.byteLength > out.length) {
      throw new OriginError(`origin ${origin.name} sent more than the ${end - start} bytes asked for`)
    }
    out.set(chunk, off)
    off += chunk.byteLength
  }
  if (off !== out.length) throw new OriginError(`origin ${origin.name} sent ${off} of ${end - start} bytes`, { retryable: true })
  return out
}

/**
 * Splits a whole-blob stream (origins without Range support) into pieces,
 * calling `onPiece` for each full piece in order.
 */
export async function readOriginWhole (origin: Origin, size: number, pieceSize: number, signal: AbortSignal, onPiece: (index: number, bytes: Uint8Array) => Promise<void>): Promise<void> {
  let index = 0
  let buf = Buffer.allocUnsafe(Math.min(pieceSize, size))
  let off = 0
  let total = 0
  for await (const chunk of origin.read(undefined, { signal })) {
    let c = 0
    total += chunk.byteLength
    if (total > size) throw new OriginError(`origin ${origin.name} sent more than ${size} bytes`)
    while (c < chunk.byteLength) {
      const take = Math.min(buf.length - off, chunk.byteLength - c)
      buf.set(chunk.subarray(c, c + take), off)
      off += take
      c += take
      if (off === buf.length) {
        await onPiece(index, buf)
        index++
        off = 0
        // onPiece is done with it (the store keeps nothing it was given): reused, not made anew per piece (piece-buffers.ts says why).
        const next = Math.min(pieceSize, size - index * pieceSize)
        if (next !== buf.length) buf = Buffer.allocUnsafe(next)
      }
    }
  }
  if (total !== size) throw new OriginError(`origin ${origin.name} sent ${total} of ${size} bytes`, { retryable: true })
}
