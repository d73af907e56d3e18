import { OriginError } from '../errors.js'
import type { Origin } from '../origin/types.js'
import type { Logger } from '../types.js'
import type { DownloadEvents } from './types.js'

/** What the origin list tells its download. */
export interface OriginListComponents {
  readonly digest: string
  readonly events: Pick<DownloadEvents, 'originError'>
  readonly logger?: Logger
  /** Another origin took over (a whole-blob stream may restart again). */
  switched: () => void
  /** An origin failed for good: our claims changed, and the download may be stuck. */
  failedForGood: () => void
}

/**
 * The origins of one download, in the order callers gave them: one is in
 * use; when it fails for good the next takes over, and when the last one
 * failed there is none until a caller adds another.
 */
export class OriginList {
  readonly #c: OriginListComponents
  readonly #origins: Origin[] = []
  #index = 0
  #failed?: Error

  constructor (c: OriginListComponents) {
    this.#c = c
  }

  /** The origin in use, if one is usable. */
  get current (): Origin | undefined { return this.#failed == null ? this.#origins[this.#index] : undefined }

  /** Why the last origin failed for good (undefined while one is usable or none was given). */
  get failed (): Error | undefined { return this.#failed }

  /** Adds an origin; false when one of that name is there already. A new origin revives a list whose origins all failed. */
  add (origin: Origin): boolean {
    if (this.#origins.some(o => o.name === origin.name)) return false
    this.#origins.push(origin)
    if (this.#failed != null) { this.#failed = undefined; this.#index = this.#origins.length - 1 }
    return true
  }

  /** An origin's stat or piece request failed: a retryable error changes nothing; else the next origin takes over. */
  requestFailed (origin: Origin, err: Error): void {
    this.#c.events.originError()
    this.#c.logger?.warn({ err, digest: this.#c.digest, origin: origin.name }, 'origin request failed')
    if (err instanceof OriginError && err.retryable) return
    if (this.current === origin) this.next(err)
    this.#c.failedForGood()
  }

  /** The current origin failed for good: the next one given takes over, or there is none. */
  next (err: Error): void {
    if (this.#index + 1 < this.#origins.length) {
      this.#index++
      this.#c.switched()
      return
    }
    this.#failed = err
  }
}
