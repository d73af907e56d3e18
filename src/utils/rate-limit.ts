import { throwIfAborted } from '../errors.js'

/** Paces bytes: `take(n)` resolves when n more bytes may move. */
export interface RateLimiter {
  take(bytes: number, options?: { signal?: AbortSignal }): Promise<void>
  /** Bytes per second; Infinity when unlimited. */
  readonly rate: number
}

/**
 * A token bucket shared by every transfer of one kind (upload, download,
 * origin), so the cap holds however many transfers run at once. The bucket
 * holds at most `burst` bytes (default: a quarter second of rate, at least
 * 64 KiB) so a long idle spell cannot be spent as one big burst. A take larger
 * than the bucket drives it into debt; later takers wait out that debt in
 * arrival order, so the long-run rate stays at `rate`.
 */
export function createRateLimiter (rate: number | undefined, burst?: number): RateLimiter {
  if (rate == null || rate <= 0 || !Number.isFinite(rate)) return unlimited
  return new TokenBucket(rate, burst ?? Math.max(64 * 1024, Math.floor(rate / 4)))
}

/**
 * Admission rather than pacing: `tryTake(n)` takes n tokens when the bucket
 * holds them and says yes, or takes nothing and says no — it never waits and
 * never runs into debt, so a refused caller costs the bucket nothing and an
 * honest caller is admitted again as soon as the rate allows.
 */
export interface Admission {
  tryTake(tokens: number): boolean
  /** Tokens per second. */
  readonly rate: number
}

/** A token bucket of `rate` tokens a second holding at most `burst`, full at first. */
export function createAdmission (rate: number, burst: number): Admission {
  return new TokenBucket(rate, burst)
}

const unlimited: RateLimiter = {
  rate: Infinity,
  async take (_bytes, options) { throwIfAborted(options?.signal) }
}

class TokenBucket implements RateLimiter, Admission {
  readonly rate: number
  readonly #burst: number
  #tokens: number
  #last = performance.now()
  #tail: Promise<void> = Promise.resolve()

  constructor (rate: number, burst: number) {
    this.rate = rate
    this.#burst = burst
    this.#tokens = burst
  }

  async take (bytes: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(options.signal)
    // Serialise takers so a big take does not starve behind many small ones.
    const turn = this.#tail.then(async () => { await this.#wait(bytes, options.signal) })
    this.#tail = turn.catch(() => {})
    await turn
  }

  tryTake (tokens: number): boolean {
    this.#refill()
    if (this.#tokens < tokens) return false
    this.#tokens -= tokens
    return true
  }

  async #wait (bytes: number, signal?: AbortSignal): Promise<void> {
    this.#refill()
    this.#tokens -= bytes
    if (this.#tokens >= 0) return
    const ms = (-this.#tokens / this.rate) * 1000
    await sleep(ms, signal)
  }

  #refill (): void {
    const now = performance.now()
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.rate)
    this.#last = now
  }
}

export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal)
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(done, ms)
    function done (): void { signal?.removeEventListener('abort', onAbort); resolve() }
    function onAbort (): void { clearTimeout(t); signal?.removeEventListener('abort', onAbort); reject(signal?.reason ?? new Error('aborted')) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
