import { Agent, interceptors, request, type Dispatcher } from 'undici'
import { InvalidRequestError, OriginError, throwIfAborted } from '../errors.js'
import { sleep, type RateLimiter } from '../utils/rate-limit.js'
import {
  Attempt, backoffMs, checkRange, contentLength, header, parseContentRange, parseRetryAfter,
  parseUnsatisfiedRange, statusError
} from './http-util.js'
import type { AbortOptions } from '../types.js'
import type { Origin, OriginInfo, OriginReadOptions } from './types.js'

export interface HttpOriginInit {
  url: string | URL
  /** Sent with every request (Authorization etc.); names are case-insensitive. */
  headers?: Record<string, string>
  /** Longest silence from the origin (connect, headers, between body chunks). Default 30 s. */
  timeoutMs?: number
  /** Tries per operation, the first included (default 4). A try that moved bytes resets the count. */
  retries?: number
  /** First backoff in ms (default 250), doubled per failure, with jitter. */
  backoffMs?: number
  /** Paces the bytes received (an origin bandwidth cap). */
  rateLimiter?: RateLimiter
  /** Called once per HTTP request sent (redirect hops inside it are not counted). */
  onRequest?: () => void
  /** Called for each failed request, retried or not; not for the caller's own abort. */
  onError?: (err: Error) => void
  /** Connection pool to use; a shared keep-alive Agent when absent. */
  dispatcher?: Dispatcher
}

export const MAX_REDIRECTS = 5
const DEFAULT_TIMEOUT_MS = 30_000

// One pool for every origin that brings none, like undici's global
// dispatcher: origins are created per download and must not each leak sockets.
let sharedDispatcher: Dispatcher | undefined
function defaultDispatcher (): Dispatcher {
  sharedDispatcher ??= new Agent({ connectTimeout: DEFAULT_TIMEOUT_MS })
    .compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }))
  return sharedDispatcher
}

/** The URL as it may appear in logs: no user:password, no query (signed URLs carry secrets there). */
export function redactUrl (url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`
}

export function createHttpOrigin (init: HttpOriginInit): Origin {
  return new HttpOrigin(init)
}

type Headers = Record<string, string>

class HttpOrigin implements Origin {
  readonly name: string
  readonly #url: URL
  readonly #headers: Headers
  readonly #timeoutMs: number
  readonly #tries: number
  readonly #backoffMs: number
  readonly #init: HttpOriginInit
  readonly #dispatcher: Dispatcher

  constructor (init: HttpOriginInit) {
    const url = new URL(init.url)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidRequestError(`not an http(s) URL: ${redactUrl(url)}`)
    }
    this.#init = init
    this.#headers = {}
    for (const [k, v] of Object.entries(init.headers ?? {})) this.#headers[k.toLowerCase()] = v
    // Byte offsets only mean something in the identity encoding.
    this.#headers['accept-encoding'] = 'identity'
    if (url.username !== '' && this.#headers.authorization === undefined) {
      const user = decodeURIComponent(url.username)
      const pass = decodeURIComponent(url.password)
      this.#headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
    }
    url.username = ''
    url.password = ''
    this.#url = url
    this.name = redactUrl(url)
    this.#timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#tries = Math.max(1, init.retries ?? 4)
    this.#backoffMs = init.backoffMs ?? 250
    this.#dispatcher = init.dispatcher != null
      ? init.dispatcher.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }))
      : defaultDispatcher()
  }

  async #send (method: 'GET' | 'HEAD', extra: Headers, attempt: Attempt): Promise<Dispatcher.ResponseData> {
    this.#init.onRequest?.()
    const res = await request(this.#url, {
      method,
      headers: { ...this.#headers, ...extra },
      signal: attempt.signal,
      dispatcher: this.#dispatcher,
      // Our Attempt timer measures silence and pauses while the consumer is busy; undici's own would not.
      headersTimeout: 0,
      bodyTimeout: 0
    })
    attempt.touch()
    // We destroy bodies we stop reading early; undici then emits 'Request
    // aborted', which must not become an uncaught exception.
    res.body.on('error', () => {})
    return res
  }

  /** What to do after a failed try: rethrow, or wait and go again. */
  async #failed (err: unknown, attempt: Attempt, failures: number, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal)
    const e = attempt.explain(err)
    // A bad range is the caller's mistake, not an origin failure.
    if (e instanceof OriginError) this.#init.onError?.(e)
    if (!(e instanceof OriginError) || !e.retryable || failures >= this.#tries) throw e
    await sleep(backoffMs(failures, this.#backoffMs, e), signal)
  }

  async stat (options: AbortOptions = {}): Promise<OriginInfo> {
    const { signal } = options
    for (let failures = 1; ; failures++) {
      throwIfAborted(signal)
      const attempt = new Attempt(this.name, this.#timeoutMs, signal)
      try {
        return await this.#statOnce(attempt)
      } catch (err) {
        await this.#failed(err, attempt, failures, signal)
      } finally {
        attempt.done()
      }
    }
  }

  async #statOnce (attempt: Attempt): Promise<OriginInfo> {
    const head = await this.#send('HEAD', {}, attempt)
    await head.body.dump()
    const digest = header(head.headers, 'docker-content-digest')
    const size = contentLength(head.headers)
    if (head.statusCode >= 200 && head.statusCode < 300 && size !== undefined) {
      return withDigest({ size, acceptsRanges: /\bbytes\b/i.test(header(head.headers, 'accept-ranges') ?? '') }, digest)
    }
    const s = head.statusCode
    if (s === 404 || s === 410 || s === 408 || s === 429 || s >= 500) {
      throw statusError(this.name, s, parseRetryAfter(header(head.headers, 'retry-after')))
    }
    // HEAD refused (405/501, or 403 from URLs signed for GET only) or no length: ask for one byte.
    const get = await this.#send('GET', { range: 'bytes=0-0' }, attempt)
    try {
      const d = header(get.headers, 'docker-content-digest') ?? digest
      if (get.statusCode === 206) {
        const total = parseContentRange(header(get.headers, 'content-range'))?.size
        if (total === undefined) throw new OriginError(`${this.name}: 206 without a usable Content-Range size`, { status: 206 })
        return withDigest({ size: total, acceptsRanges: true }, d)
      }
      if (get.statusCode === 416) {
        // `bytes=0-0` of an empty blob cannot be satisfied; the size comes in `bytes */0`.
        const total = parseUnsatisfiedRange(header(get.headers, 'content-range'))
        if (total !== undefined) return withDigest({ size: total, acceptsRanges: true }, d)
      }
      if (get.statusCode === 200) {
        // Range ignored: the whole blob started to flow; closing now wastes what the socket already took in.
        const total = contentLength(get.headers)
        if (total === undefined) throw new OriginError(`${this.name}: the origin tells no size (no Content-Length)`, { status: 200 })
        return withDigest({ size: total, acceptsRanges: false }, d)
      }
      throw statusError(this.name, get.statusCode, parseRetryAfter(header(get.headers, 'retry-after')))
    } finally {
      get.body.destroy()
    }
  }

  async * read (range: { start: number, end: number } | undefined, options: OriginReadOptions = {}): AsyncGenerator<Uint8Array> {
    const { signal, onBytes } = options
    throwIfAborted(signal)
    if (range != null) checkRange(range)
    let pos = range?.start ?? 0
    // Undefined while a whole-blob read has not learnt the size yet.
    let end = range?.end
    let failures = 0
    while (end === undefined || pos < end) {
      const attempt = new Attempt(this.name, this.#timeoutMs, signal)
      let body: Dispatcher.ResponseData['body'] | undefined
      try {
        const want = pos > 0 || end !== undefined ? `bytes=${pos}-${end === undefined ? '' : end - 1}` : undefined
        const res = await this.#send('GET', want === undefined ? {} : { range: want }, attempt)
        body = res.body
        let skip = 0
        if (res.statusCode === 206 && want !== undefined) {
          const cr = parseContentRange(header(res.headers, 'content-range'))
          if (cr?.size !== undefined && end !== undefined && end > cr.size) {
            throw new InvalidRequestError(`${this.name}: range [${pos}, ${end}) is past the end (${cr.size} bytes)`)
          }
          const upTo = end ?? cr?.size
          if (cr == null || cr.start !== pos || cr.end !== upTo) {
            throw new OriginError(`${this.name}: asked for ${want}, got Content-Range ${header(res.headers, 'content-range') ?? '(none)'}`, { status: 206 })
          }
          end = upTo
        } else if (res.statusCode === 200) {
          // The origin ignored Range and sends the blob from byte 0: we skip to
          // `pos` and hang up at `end`. Every skipped byte (and what was in
          // flight at hang-up) still costs origin egress; stat() reports
          // acceptsRanges=false so the engine streams such blobs once instead.
          skip = pos
          const total = contentLength(res.headers)
          if (total !== undefined && end !== undefined && end > total) {
            throw new InvalidRequestError(`${this.name}: range [${pos}, ${end}) is past the end (${total} bytes)`)
          }
          end ??= total
        } else {
          throw statusError(this.name, res.statusCode, parseRetryAfter(header(res.headers, 'retry-after')))
        }
        for await (const chunk of body as AsyncIterable<Buffer>) {
          attempt.pause()
          throwIfAborted(signal)
          let c: Uint8Array = chunk
          if (skip > 0) {
            const n = Math.min(skip, c.byteLength)
            skip -= n
            c = c.subarray(n)
          }
          if (end !== undefined && pos + c.byteLength > end) {
            if (res.statusCode === 206) throw new OriginError(`${this.name}: sent more bytes than the range ${want ?? ''}`, { status: 206 })
            c = c.subarray(0, end - pos)
          }
          if (c.byteLength > 0) {
            pos += c.byteLength
            failures = 0 // progress: a later cut gets a fresh set of tries
            await this.#init.rateLimiter?.take(c.byteLength, { signal })
            onBytes?.(c.byteLength)
            yield c
          }
          if (end !== undefined && pos >= end) break
          attempt.touch()
        }
        if (end === undefined) return // no length given: the clean end of the body is the end of the blob
        if (pos < end) throw new OriginError(`${this.name}: body ended at byte ${pos}, expected ${end}`, { retryable: true })
      } catch (err) {
        await this.#failed(err, attempt, ++failures, signal)
      } finally {
        attempt.done()
        if (body != null && !body.destroyed) body.destroy()
      }
    }
  }
}

function withDigest (info: OriginInfo, digest: string | undefined): OriginInfo {
  return digest === undefined ? info : { ...info, digest }
}
