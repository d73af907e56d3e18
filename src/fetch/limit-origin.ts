import type { Origin } from '../origin/types.js'
import type { RateLimiter } from '../utils/rate-limit.js'

/** Wraps any Origin so every byte it yields passes the node's origin bandwidth cap. */
export function limitOrigin (origin: Origin, limiter: RateLimiter): Origin {
  if (limiter.rate === Infinity) return origin
  return {
    name: origin.name,
    stat: async (options) => await origin.stat(options),
    async * read (range, options = {}) {
      for await (const chunk of origin.read(range, options)) {
        await limiter.take(chunk.byteLength, { signal: options.signal })
        yield chunk
      }
    }
  }
}
