import { AbortError } from '../errors.js'
import type { AttemptView } from './scheduler.js'

interface Attempt extends AttemptView { ctrl: AbortController }

/** The reason a finished attempt's controller is aborted with (it only releases listeners): one shared error, not a stack trace per request. */
const ATTEMPT_OVER = new AbortError('attempt over')

/** Piece index of the whole-blob origin stream. */
export const WHOLE = -1

/**
 * Requests in flight, per piece, whatever their source (a peer, a ranged
 * origin request, the whole-blob stream): the one bookkeeping the three
 * fetch paths share. Each attempt gets its own AbortController, linked to
 * the download's signal, and is aborted when the piece arrives elsewhere.
 */
export class Attempts {
  readonly #parent: AbortSignal
  readonly #byPiece = new Map<number, Attempt[]>()

  constructor (parent: AbortSignal) {
    this.#parent = parent
  }

  get view (): ReadonlyMap<number, readonly AttemptView[]> { return this.#byPiece }
  get size (): number { return this.#byPiece.size }
  has (i: number): boolean { return this.#byPiece.has(i) }

  start (i: number, source: string, now: number): AbortController {
    const ctrl = new AbortController()
    const onAbort = (): void => { ctrl.abort(this.#parent.reason) }
    this.#parent.addEventListener('abort', onAbort, { once: true })
    ctrl.signal.addEventListener('abort', () => { this.#parent.removeEventListener('abort', onAbort) }, { once: true })
    const list = this.#byPiece.get(i) ?? []
    list.push({ source, ctrl, at: now })
    this.#byPiece.set(i, list)
    return ctrl
  }

  end (i: number, ctrl: AbortController): void {
    const list = (this.#byPiece.get(i) ?? []).filter(a => a.ctrl !== ctrl)
    if (list.length === 0) this.#byPiece.delete(i)
    else this.#byPiece.set(i, list)
    if (!ctrl.signal.aborted) ctrl.abort(ATTEMPT_OVER)
  }

  /** Aborts every other request for piece i (it arrived). */
  abortPiece (i: number, reason: string): void {
    for (const a of this.#byPiece.get(i) ?? []) a.ctrl.abort(new AbortError(reason))
  }

  /** Aborts every request to a peer (after a whole-blob mismatch the dropped pieces come from the origin alone). */
  abortPeers (reason: string): void {
    for (const list of this.#byPiece.values()) for (const a of list) if (a.source !== 'origin') a.ctrl.abort(new AbortError(reason))
  }

  abortAll (reason: string): void {
    for (const list of this.#byPiece.values()) for (const a of list) a.ctrl.abort(new AbortError(reason))
  }

  /** When the oldest request to `source` still in flight started (undefined: none). */
  oldestFrom (source: string): number | undefined {
    let at: number | undefined
    for (const list of this.#byPiece.values()) for (const a of list) if (a.source === source && (at == null || a.at < at)) at = a.at
    return at
  }

  /** Pieces with a request to `source` in flight. */
  * piecesFrom (source: string): Generator<number> {
    for (const [i, list] of this.#byPiece) if (i >= 0 && list.some(a => a.source === source)) yield i
  }
}
