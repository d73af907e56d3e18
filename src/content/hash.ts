import { createHash, webcrypto, type Hash } from 'node:crypto'

/** node:crypto sha256 (~1.6 GB/s here, 4x hash-wasm): the only hasher we use. */
export function sha256 (bytes: Uint8Array | Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  if (Array.isArray(bytes)) { for (const b of bytes) h.update(b) } else h.update(bytes)
  return new Uint8Array(h.digest())
}

export function createSha256 (): Hash {
  return createHash('sha256')
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

/**
 * Below this a piece is hashed on the event loop: handing it to the thread
 * pool costs a copy and a round trip that outweigh the hash itself.
 */
export const OFF_LOOP_HASH_MIN_BYTES = 256 * 1024

/**
 * sha256 on libuv's thread pool (WebCrypto's digest runs there; it copies
 * the bytes first), so a receiver verifying pieces at full speed keeps its
 * event loop for the network: bench/p2p's receiver spent 7 % of its main
 * thread in piece hashes (docs/throughput.md).
 */
export async function sha256OffLoop (bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes.byteLength < OFF_LOOP_HASH_MIN_BYTES) return sha256(bytes)
  return new Uint8Array(await webcrypto.subtle.digest('SHA-256', bytes))
}
