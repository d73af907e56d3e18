import { InvalidRequestError, OriginError } from '../errors.js'
import type { IncomingHttpHeaders } from 'node:http'
import { setIoTimeout, type IoTimer } from '../utils/io-timeout.js'

/** A satisfied `Content-Range: bytes a-b/size`, as a half-open range [start, end). */
export interface ContentRange {
  start: number
  end: number
  /** Undefined when the origin sent `*` (length unknown). */
  size?: number
}

/** First value of a header (undici gives arrays for repeated headers). */
export function header (headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

export function parseContentRange (value: string | undefined): ContentRange | undefined {
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value?.trim() ?? '')
  if (m == null) return undefined
  const start = Number(m[1])
  const end = Number(m[2]) + 1
  if (end <= start) return undefined
  return { start, end, size: m[3] === '*' ? undefined : Number(m[3]) }
}

/** `Content-Range: bytes *\/SIZE`, sent with 416: the size of the blob. */
export function parseUnsatisfiedRange (value: string | undefined): number | undefined {
  const m = /^bytes\s+\*\/(\d+)$/i.exec(value?.trim() ?? '')
  return m == null ? undefined : Number(m[1])
}

export function contentLength (headers: IncomingHttpHeaders): number | undefined {
  const v = header(headers, 'content-length')
  if (v == null || !/^\d+$/.test(v.trim())) return undefined
  return Number(v)
}

/** Seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter (value: string | undefined): number | undefined {
  if (value == null) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000
  const t = Date.parse(value)
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now())
}

/** The error for a status we cannot use. 408, 429 and 5xx may pass; other 4xx will not. */
export function statusError (name: string, status: number, retryAfterMs?: number): Error {
  if (status === 404 || status === 410) {
    return new OriginError(`${name}: not found at origin (HTTP ${status})`, { status, retryable: false })
  }
  if (status === 416) return new InvalidRequestError(`${name}: range not satisfiable (HTTP 416)`)
  if (status >= 300 && status < 400) {
    return new OriginError(`${name}: too many redirects or a redirect without Location (HTTP ${status})`, { status, retryable: false })
  }
  const retryable = status === 408 || status === 429 || status >= 500
  const err = new OriginError(`${name}: HTTP ${status}`, { status, retryable })
  if (retryAfterMs !== undefined) Object.assign(err, { retryAfterMs })
  return err
}

// Codes of socket-level failures that a later attempt may not meet.
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED'
])

export function isTransient (err: unknown): boolean {
  if (err instanceof OriginError) return err.retryable
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && TRANSIENT_CODES.has(code)
}

/** Turns whatever a request threw into OriginError (keeping InvalidRequestError and OriginError as they are). */
export function toOriginError (name: string, err: unknown): Error {
  if (err instanceof OriginError || err instanceof InvalidRequestError) return err
  const msg = err instanceof Error ? err.message : String(err)
  return new OriginError(`${name}: ${msg}`, { cause: err, retryable: isTransient(err) })
}

/**
 * Exponential backoff with jitter (half fixed, half random, so retries of many
 * nodes hitting one origin spread out), at least what Retry-After asked for
 * (capped: a stuck origin must not park a download for an hour).
 */
export function backoffMs (failures: number, baseMs: number, err?: unknown): number {
  const exp = Math.min(10_000, baseMs * 2 ** (failures - 1))
  const jittered = exp / 2 + Math.random() * exp / 2
  const retryAfter = (err as { retryAfterMs?: number } | undefined)?.retryAfterMs
  return retryAfter === undefined ? jittered : Math.max(jittered, Math.min(retryAfter, 30_000))
}

export function checkRange (range: { start: number, end: number }): void {
  const { start, end } = range
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new InvalidRequestError(`bad range [${start}, ${end})`)
  }
}

/**
 * One HTTP attempt's abort controller: fires on the caller's signal, or when
 * the origin has been silent for `ms` (connect, headers, or between body
 * chunks). The timer is paused while the consumer holds a chunk, so a slow
 * reader is not blamed on the origin.
 */
export class Attempt {
  readonly controller = new AbortController()
  readonly #signal?: AbortSignal
  readonly #ms: number
  readonly #name: string
  #timer?: IoTimer
  readonly #onAbort = (): void => { this.controller.abort(this.#signal?.reason) }

  constructor (name: string, ms: number, signal?: AbortSignal) {
    this.#name = name
    this.#ms = ms
    this.#signal = signal
    signal?.addEventListener('abort', this.#onAbort, { once: true })
    this.touch()
  }

  get signal (): AbortSignal { return this.controller.signal }

  touch (): void {
    this.pause()
    // judged after one I/O poll: a starved process must not blame the origin for bytes already in its socket (utils/io-timeout.ts)
    this.#timer = setIoTimeout(() => {
      this.controller.abort(new OriginError(`${this.#name}: no answer for ${this.#ms} ms`, { retryable: true }))
    }, this.#ms)
  }

  pause (): void {
    this.#timer?.clear()
    this.#timer = undefined
  }

  done (): void {
    this.pause()
    this.#signal?.removeEventListener('abort', this.#onAbort)
  }

  /** What to throw for `err`: the caller's reason when they aborted, our timeout when it fired. */
  explain (err: unknown): Error {
    if (this.#signal?.aborted === true) {
      const r: unknown = this.#signal.reason
      return r instanceof Error ? r : new OriginError('aborted', { cause: r })
    }
    if (this.controller.signal.aborted) return this.controller.signal.reason as Error
    return toOriginError(this.#name, err)
  }
}
