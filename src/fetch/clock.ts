/**
 * Time as the download engine sees it. The engine never calls Date.now,
 * setTimeout or AbortSignal.timeout directly: it asks its clock, so the same
 * code runs on wall time in a node and on virtual time in the in-process
 * simulation (test/sim), where a thousand engines share one process and a
 * minute of swarm time passes in a second.
 */
import { ioTimeoutSignal } from '../utils/io-timeout.js'

export interface Clock {
  /** Milliseconds since the epoch (or since the simulation began). */
  now(): number
  /** Runs `fn` after `ms`; returns a function that cancels it. Never keeps the process alive. */
  after(ms: number, fn: () => void): () => void
  /** Runs `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void
  /** Resolves after `ms`; rejects with the signal's reason if it fires first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
  /** A signal that aborts after `ms` (a TimeoutError, like AbortSignal.timeout). */
  timeout(ms: number): AbortSignal
}

/** Wall time: what a real node uses. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after (ms, fn) {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return () => { clearTimeout(t) }
  },
  every (ms, fn) {
    const t = setInterval(fn, ms)
    t.unref?.()
    return () => { clearInterval(t) }
  },
  async sleep (ms, signal) {
    await sleepWith(this, ms, signal)
  },
  // judged after one I/O poll, not before it (utils/io-timeout.ts)
  timeout: (ms) => ioTimeoutSignal(ms)
}

/** `sleep` on any clock's `after`. */
export async function sleepWith (clock: Pick<Clock, 'after'>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) throw signal.reason
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { cancel(); reject(signal?.reason) }
    const cancel = clock.after(ms, () => { signal?.removeEventListener('abort', onAbort); resolve() })
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** `timeout` on any clock's `after`: aborts with a TimeoutError DOMException, as AbortSignal.timeout does. */
export function timeoutWith (clock: Pick<Clock, 'after'>, ms: number): AbortSignal {
  const ctrl = new AbortController()
  clock.after(ms, () => { ctrl.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')) })
  return ctrl.signal
}
