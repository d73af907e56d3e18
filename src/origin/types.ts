import type { AbortOptions } from '../types.js'

/** What an origin says about a blob before any body bytes move. */
export interface OriginInfo {
  size: number
  /** Does the origin honour `Range`? If not, one peer per location streams the whole blob. */
  acceptsRanges: boolean
  /** A digest the origin vouches for (e.g. Docker-Content-Digest); informational only. */
  digest?: string
}

export interface OriginReadOptions extends AbortOptions {
  /** Called with each chunk's length as it arrives (metrics, rate limits happen inside). */
  onBytes?: (n: number) => void
}

/**
 * Where bytes come from when the swarm lacks them: an HTTP(S) URL, an OCI
 * registry blob, a local file. The download engine only knows this
 * interface. Implementations retry transient failures themselves, and throw
 * OriginError (with `status`) when they give up.
 */
export interface Origin {
  /** Human-readable name for logs and errors (a URL without credentials). */
  readonly name: string
  stat(options?: AbortOptions): Promise<OriginInfo>
  /**
   * Bytes [start, end) — or the whole blob when `range` is undefined. Yields
   * exactly that many bytes or throws; never silently short.
   */
  read(range: { start: number, end: number } | undefined, options?: OriginReadOptions): AsyncIterable<Uint8Array>
}
