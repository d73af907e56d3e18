import type { Clock } from './clock.js'
import { WAKE_COALESCE_MS } from './constants.js'

/**
 * When the download's scheduling pass runs: `now` coalesces the events of
 * one turn into one pass; `soon` waits WAKE_COALESCE_MS — what peers tell
 * us (gossip, meta answers) is acted on in one pass, since a swarm of
 * hundreds sends a node a message every few milliseconds and a pass per
 * message was most of the engine's time in the 200-node simulation.
 */
export class Wakeup {
  readonly #clock: Clock
  readonly #pass: () => void
  #queued = false
  #cancelSoon?: () => void
  #stopped = false

  constructor (clock: Clock, pass: () => void) {
    this.#clock = clock
    this.#pass = pass
  }

  now (): void {
    if (this.#queued) return
    this.#queued = true
    queueMicrotask(() => { this.#queued = false; this.#pass() })
  }

  soon (): void {
    if (this.#cancelSoon != null || this.#stopped) return
    this.#cancelSoon = this.#clock.after(WAKE_COALESCE_MS, () => { this.#cancelSoon = undefined; this.#pass() })
  }

  stop (): void {
    this.#stopped = true
    this.#cancelSoon?.()
  }
}
