import type { FileHandle } from 'node:fs/promises'
import { throwIfAborted } from '../errors.js'

/**
 * Streams [start, end) of a file with positional reads. `use` (acquire) and
 * `open` run lazily on the first pull and are undone when the consumer
 * finishes, breaks or fails, so a reader keeps the blob from being evicted
 * exactly as long as it reads.
 */
export function streamFile (open: () => Promise<{ fh: FileHandle, release: () => Promise<void> }>, use: () => () => void, start: number, end: number, chunk: number, signal?: AbortSignal, reuseBuffer = false): AsyncIterable<Uint8Array> {
  // each iteration reads afresh, like a file path would
  return { [Symbol.asyncIterator]: gen }

  async function * gen (): AsyncGenerator<Uint8Array> {
    const unuse = use()
    try {
      throwIfAborted(signal)
      if (end <= start) return
      const { fh, release } = await open()
      // Positional reads, not fh.createReadStream: the handle may be shared
      // (a partial's pooled fd), and two read streams on one FileHandle at
      // once could leave the second without data (seen with the HTTP API and
      // a library reader on one partial blob).
      try {
        // one buffer for the whole iteration when the consumer allows it (ReadOptions.reuseBuffer)
        const shared = reuseBuffer ? Buffer.allocUnsafeSlow(Math.min(chunk, end - start)) : undefined
        for (let pos = start; pos < end;) {
          throwIfAborted(signal)
          const len = Math.min(chunk, end - pos)
          const buf = shared != null ? shared.subarray(0, len) : Buffer.allocUnsafeSlow(len)
          const { bytesRead } = await fh.read(buf, 0, len, pos)
          if (bytesRead === 0) throw new Error(`short read at ${pos} of [${start}, ${end})`)
          pos += bytesRead
          yield bytesRead === len ? buf : buf.subarray(0, bytesRead)
        }
      } finally {
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
