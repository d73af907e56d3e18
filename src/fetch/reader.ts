import { pieceRange } from '../content/index.js'
import { DigestMismatchError } from '../errors.js'
import type { BlobStore } from '../store/types.js'

/** What a streaming reader needs from a running download. */
export interface ReadSource {
  readonly digest: string
  readonly size: number
  readonly pieceSize: number
  waitReady(signal?: AbortSignal): Promise<void>
  /** Resolves when piece i is verified and durable. */
  waitPiece(i: number, signal?: AbortSignal): Promise<void>
  /** Tells the scheduler where this reader is, so its next pieces go first. */
  readerAt(piece: number): { moveTo(piece: number): void, close(): void }
  /** Why the download failed, once it has. */
  readonly failure: Error | undefined
  readonly done: Promise<unknown>
  /** Is piece i held but checked only against a peer's claim (not yet proven by the whole-blob digest)? */
  isProvisional(i: number): boolean
  /** How many times the assembled blob failed its digest and was fetched again. */
  readonly resets: number
}

/**
 * Streams verified bytes [offset, offset+length) in order while the download
 * runs: each piece is read from the store as soon as it is held. The trust
 * rule (docs/security.md): when any piece of the range is provisional
 * (checked only against a peer's claim), the last piece of the range is held
 * back until the whole blob matched its digest, and a reader that already
 * gave out provisional bytes which then proved wrong fails instead of
 * finishing — so no reader ever gets the final byte of a wrong body.
 */
export async function * readVerified (src: ReadSource, store: Pick<BlobStore, 'read'>, range: { offset?: number, length?: number } = {}, signal?: AbortSignal, reuseBuffer = false): AsyncGenerator<Uint8Array> {
  await src.waitReady(signal)
  const start = range.offset ?? 0
  const end = Math.min(src.size, range.length != null ? start + range.length : src.size)
  if (end <= start) return
  const first = Math.floor(start / src.pieceSize)
  const last = Math.floor((end - 1) / src.pieceSize)
  const position = src.readerAt(first)
  const resets = src.resets
  let gaveProvisional = false
  const refuseIfWrong = (): void => {
    if (gaveProvisional && src.resets !== resets) throw new DigestMismatchError(`${src.digest}: bytes already streamed came from pieces that failed the whole-blob digest`)
  }
  try {
    for (let i = first; i <= last; i++) {
      position.moveTo(i)
      await src.waitPiece(i, signal)
      // A mismatch drops only the provisional pieces (the trusted ones stay
      // readable): a reader that gave out provisional bytes must not go on
      // as if they were right.
      refuseIfWrong()
      if (i === last) {
        // Bytes given out provisionally are proven only by the whole-blob check.
        let anyProvisional = gaveProvisional
        for (let k = first; k <= last && !anyProvisional; k++) anyProvisional = src.isProvisional(k)
        if (anyProvisional) {
          await waitDone(src, signal)
          refuseIfWrong()
        }
      }
      if (src.isProvisional(i)) gaveProvisional = true
      const r = pieceRange(src.size, src.pieceSize, i)
      const s = Math.max(start, r.start)
      const e = Math.min(end, r.end)
      let pos = s
      try {
        for await (const chunk of store.read(src.digest, { offset: s, length: e - s }, { signal, reuseBuffer })) {
          pos += chunk.byteLength
          yield chunk
        }
      } catch (err) {
        // The pieces went away under us: the whole blob failed its digest
        // and is being fetched again (or the download failed). Wait for the
        // outcome, then either report why or resume from the verified blob.
        if (src.failure != null || signal?.aborted === true) throw src.failure ?? err
        await src.done
        refuseIfWrong()
        yield * store.read(src.digest, { offset: pos, length: e - pos }, { signal, reuseBuffer })
      }
    }
  } finally {
    position.close()
  }
}

async function waitDone (src: ReadSource, signal?: AbortSignal): Promise<void> {
  if (signal == null) { await src.done; return }
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    src.done.then(() => { resolve() }, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
