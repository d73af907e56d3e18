import type { FileHandle } from 'node:fs/promises'
import { throwIfAborted } from '../errors.js'

/**
 * Streams [start, end) of a file through fs streams. `use` (acquire) and
 * `open` run lazily on the first pull and are undone when the consumer
 * finishes, breaks or fails, so a reader keeps the blob from being evicted
 * exactly as long as it reads.
 */
export function streamFile (open: () => Promise<{ fh: FileHandle, release: () => Promise<void> }>, use: () => () => void, start: number, end: number, chunk: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  // each iteration reads afresh, like a file path would
  return { [Symbol.asyncIterator]: gen }

  async function * gen (): AsyncGenerator<Uint8Array> {
    const unuse = use()
    try {
      throwIfAborted(signal)
      if (end <= start) return
      const { fh, release } = await open()
      // the handle may be shared (a partial's pooled fd): the stream must not close it
      const stream = fh.createReadStream({ start, end: end - 1, highWaterMark: chunk, autoClose: false, emitClose: false })
      const onAbort = (): void => { stream.destroy() }
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        try {
          for await (const buf of stream) {
            throwIfAborted(signal)
            yield buf as Buffer
          }
        } catch (err) {
          throwIfAborted(signal) // the abort's reason, not the premature close it caused
          throw err
        }
        throwIfAborted(signal)
      } finally {
        signal?.removeEventListener('abort', onAbort)
        stream.destroy()
        await release()
      }
    } finally {
      unuse()
    }
  }
}

/** Defers `make` (and any error it throws) to the first pull of an iteration. */
export function lazy (make: () => AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  return {
    async * [Symbol.asyncIterator] () { yield * make() }
  }
}
