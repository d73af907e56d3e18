import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { InvalidRequestError, OriginError, throwIfAborted } from '../errors.js'
import { checkRange } from './http-util.js'
import type { AbortOptions } from '../types.js'
import type { Origin, OriginInfo, OriginReadOptions } from './types.js'

/** A local file as an origin (`starling get file:///...`, tests). */
export function createFileOrigin (path: string): Origin {
  const abs = resolve(path)
  const name = `file://${abs}`

  async function size (signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal)
    try {
      const s = await stat(abs)
      if (!s.isFile()) throw new OriginError(`${name}: not a regular file`)
      return s.size
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') throw new OriginError(`${name}: not found at origin`, { status: 404, cause: err })
      throw err instanceof OriginError ? err : new OriginError(`${name}: ${(err as Error).message}`, { cause: err })
    }
  }

  return {
    name,
    async stat (options: AbortOptions = {}): Promise<OriginInfo> {
      return { size: await size(options.signal), acceptsRanges: true }
    },
    async * read (range, options: OriginReadOptions = {}) {
      const { signal, onBytes } = options
      if (range != null) checkRange(range)
      const total = await size(signal)
      const start = range?.start ?? 0
      const end = range?.end ?? total
      if (end > total) throw new InvalidRequestError(`${name}: range [${start}, ${end}) is past the end (${total} bytes)`)
      if (start === end) return
      let pos = start
      const stream = createReadStream(abs, { start, end: end - 1, highWaterMark: 1024 * 1024 })
      const onAbort = (): void => { stream.destroy() }
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          throwIfAborted(signal)
          pos += chunk.byteLength
          onBytes?.(chunk.byteLength)
          yield chunk
        }
      } catch (err) {
        throwIfAborted(signal)
        throw new OriginError(`${name}: ${(err as Error).message}`, { cause: err })
      } finally {
        signal?.removeEventListener('abort', onAbort)
        stream.destroy()
      }
      throwIfAborted(signal)
      // The file shrank under us: never hand back a short range.
      if (pos !== end) throw new OriginError(`${name}: file ended at byte ${pos}, expected ${end}`)
    }
  }
}
