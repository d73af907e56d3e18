/**
 * Virtual time for the in-process swarm simulation: one heap of timers for
 * every simulated node, fired in (time, insertion) order, with all pending
 * promise jobs settled between two timers so that each engine reacts to an
 * event before the next one happens — as it would between two I/O callbacks
 * on a real event loop, only no wall time passes in between.
 */
import { sleepWith, timeoutWith, type Clock } from '../../src/fetch/clock.js'

/**
 * Virtual time starts here, not at 0: the engine keeps "never" as 0 in a few
 * places (a peer's last meta request, busyUntil) and compares `now - 0`
 * against intervals, which near 0 would read as "just now".
 */
export const SIM_EPOCH_MS = 1_700_000_000_000

interface Timer {
  at: number
  /** Insertion order: ties fire in the order they were set (deterministic). */
  seq: number
  fn: () => void
  /** The simulated node whose code the callback runs (frozen nodes run nothing); undefined for the network itself. */
  node?: string
  cancelled: boolean
}

export interface RunOptions {
  /** Virtual deadline (absolute ms, as `now()`). */
  until?: number
  /** Stop as soon as this holds (checked with no promise job pending). */
  idle?: () => boolean
  /** Safety net for tests: stop after this much wall time. */
  wallMs?: number
}

export type RunResult = 'idle' | 'until' | 'empty' | 'wall'

/** Lets every pending promise job run (microtasks run to exhaustion before a macrotask). */
async function settle (): Promise<void> {
  await new Promise<void>(resolve => { setImmediate(resolve) })
}

export class SimClock implements Clock {
  readonly #heap: Timer[] = []
  readonly #frozenUntil = new Map<string, number>()
  #now = SIM_EPOCH_MS
  #seq = 0
  #live = 0
  /** Timers fired so far (a cost measure for the simulator itself). */
  fired = 0

  now (): number { return this.#now }
  /** Timers set and not yet fired or cancelled. */
  get pending (): number { return this.#live }

  after (ms: number, fn: () => void): () => void { return this.afterFor(undefined, ms, fn) }
  every (ms: number, fn: () => void): () => void { return this.everyFor(undefined, ms, fn) }
  async sleep (ms: number, signal?: AbortSignal): Promise<void> { await sleepWith(this, ms, signal) }
  timeout (ms: number): AbortSignal { return timeoutWith(this, ms) }

  afterFor (node: string | undefined, ms: number, fn: () => void): () => void {
    const t: Timer = { at: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: this.#seq++, fn, node, cancelled: false }
    this.#push(t)
    this.#live++
    return () => {
      if (t.cancelled) return
      t.cancelled = true
      this.#live--
    }
  }

  everyFor (node: string | undefined, ms: number, fn: () => void): () => void {
    let stopped = false
    let cancel = (): void => {}
    const tick = (): void => {
      if (stopped) return
      cancel = this.afterFor(node, ms, tick) // re-armed first, as setInterval does, so fn may stop it
      fn()
    }
    cancel = this.afterFor(node, ms, tick)
    return () => { stopped = true; cancel() }
  }

  /** The clock one node's engine sees: its timers do not fire while the node is frozen. */
  forNode (node: string): Clock {
    const clock: Clock = {
      now: () => this.#now,
      after: (ms, fn) => this.afterFor(node, ms, fn),
      every: (ms, fn) => this.everyFor(node, ms, fn),
      sleep: async (ms, signal) => { await sleepWith(clock, ms, signal) },
      timeout: (ms) => timeoutWith(clock, ms)
    }
    return clock
  }

  /**
   * SIGSTOP for `ms`, then SIGCONT: callbacks of `node` that fall due while
   * it is frozen run at the thaw, in their original order.
   */
  freeze (node: string, ms: number): void {
    const until = this.#now + ms
    this.#frozenUntil.set(node, Math.max(until, this.#frozenUntil.get(node) ?? 0))
  }

  /** Frozen for good (a node that left): its callbacks never run again. */
  stop (node: string): void { this.#frozenUntil.set(node, Infinity) }

  isFrozen (node: string): boolean { return (this.#frozenUntil.get(node) ?? 0) > this.#now }
  thawsAt (node: string): number { return this.#frozenUntil.get(node) ?? 0 }

  /**
   * Fires timers in order until the predicate holds, the deadline passes, or
   * no timer remains. Between two timers every promise job settles (one
   * setImmediate: ~3 µs here, against ~1 µs for a few awaits that would not
   * reach jobs queued by jobs).
   */
  async run (opts: RunOptions = {}): Promise<RunResult> {
    const until = opts.until ?? Infinity
    const wallEnd = opts.wallMs != null ? performance.now() + opts.wallMs : Infinity
    for (;;) {
      await settle()
      if (opts.idle?.() === true) return 'idle'
      const t = this.#pop()
      if (t == null) return 'empty'
      if (t.at > until) {
        this.#push(t) // not ours to fire: a later run may
        this.#now = until
        return 'until'
      }
      if ((this.fired & 1023) === 0 && performance.now() > wallEnd) { this.#push(t); return 'wall' }
      this.#now = Math.max(this.#now, t.at)
      const thaw = t.node != null ? (this.#frozenUntil.get(t.node) ?? 0) : 0
      if (thaw > this.#now) {
        if (thaw !== Infinity) { t.at = thaw; this.#push(t) } else { t.cancelled = true; this.#live-- }
        continue
      }
      t.cancelled = true
      this.#live--
      this.fired++
      t.fn()
    }
  }

  /** Next live timer (cancelled ones are dropped lazily here). */
  #pop (): Timer | undefined {
    for (;;) {
      const top = this.#heap[0]
      if (top == null) return undefined
      const last = this.#heap.pop()!
      if (this.#heap.length > 0) { this.#heap[0] = last; this.#down(0) }
      if (!top.cancelled) return top
    }
  }

  #push (t: Timer): void {
    const h = this.#heap
    h.push(t)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!less(h[i], h[p])) break
      ;[h[i], h[p]] = [h[p], h[i]]
      i = p
    }
  }

  #down (i: number): void {
    const h = this.#heap
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && less(h[l], h[m])) m = l
      if (r < h.length && less(h[r], h[m])) m = r
      if (m === i) return
      ;[h[i], h[m]] = [h[m], h[i]]
      i = m
    }
  }
}

function less (a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
