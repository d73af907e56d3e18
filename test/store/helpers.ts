import { randomBytes } from 'node:crypto'
import { PieceMapBuilder, sha256, type PieceMap } from '../../src/content/index.js'

/** Random bytes with their piece map at a given piece size. */
export function makeBlob (size: number, pieceSize: number): { bytes: Uint8Array, map: PieceMap, digest: string, piece: (i: number) => Uint8Array } {
  const bytes = new Uint8Array(randomBytes(size))
  const b = new PieceMapBuilder(pieceSize)
  b.update(bytes)
  const map = b.finish()
  return { bytes, map, digest: map.digest, piece: i => bytes.subarray(i * pieceSize, Math.min(size, (i + 1) * pieceSize)) }
}

export async function collect (it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of it) parts.push(c)
  return new Uint8Array(Buffer.concat(parts))
}

export function digestOf (bytes: Uint8Array): string {
  return `sha256:${Buffer.from(sha256(bytes)).toString('hex')}`
}

export async function expectName (p: Promise<unknown> | (() => unknown), name: string): Promise<void> {
  try {
    if (typeof p === 'function') await p(); else await p
  } catch (err) {
    if ((err as Error).name !== name) throw new Error(`expected ${name}, got ${(err as Error).name}: ${(err as Error).message}`)
    return
  }
  throw new Error(`expected ${name}, but nothing was thrown`)
}

/** Byte equality without vitest's element-by-element diff (slow on MiBs). */
export function sameBytes (a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a != null && a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}
