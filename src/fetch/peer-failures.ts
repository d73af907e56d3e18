import { BUSY_BACKOFF_MS, FAILURE_BACKOFF_BASE_MS, FAILURES_TO_FORGET_PIECE, MAX_FAILURE_BACKOFF_MS } from './constants.js'
import type { RemotePeer } from './types.js'

/** A peer's "too many requests now" answer: a pause, not a failure. */
export function isBusy (err: any): boolean {
  return err?.busy === true || err?.name === 'BusyError'
}

/** What the failure rule reads of the view and asks it to do. */
export interface FailureHost {
  /** BUSY streaks demote holders only while an origin can take their pieces. */
  originUsable: () => boolean
  /** How long a BUSY streak is believed (the download stretches it with load). */
  busyStreakMs: () => number
  /** The peer was just demoted: its pieces stop counting. */
  demoted: (p: RemotePeer) => void
  /** The peer lost piece i (it said NOT_FOUND, or failed too often). */
  forgetPiece: (p: RemotePeer, i: number) => void
}

/**
 * How a failed request to a peer is taken: BUSY backs off briefly and, in
 * a long streak while the swarm stands still, demotes the peer; anything
 * else backs off exponentially and, repeated, forgets the piece. Whether
 * the swarm moves is kept here too: a peer served us, or some peer's
 * have-set grew past its high-water mark.
 */
export class PeerFailures {
  readonly #host: FailureHost
  /** When a peer last served us a piece or any peer's have-set last grew past its high-water mark. */
  #swarmProgressAt = -Infinity

  constructor (host: FailureHost) {
    this.#host = host
  }

  /** The swarm moved at `now`. */
  progressed (now: number): void {
    this.#swarmProgressAt = Math.max(this.#swarmProgressAt, now)
  }

  failed (p: RemotePeer, i: number, err: any, now: number): void {
    if (isBusy(err)) {
      p.busyUntil = now + BUSY_BACKOFF_MS
      p.busySince ??= now
      // BUSY is bounded in time: a holder that only ever says BUSY must not
      // keep the origin away — but only once the swarm stopped moving (no
      // peer served us, no peer's have-set grew) for as long. On a loaded
      // swarm every honest seeder says BUSY for long stretches; demoting
      // them while pieces still flowed sent 24 nodes 3.4 × the blob and 32
      // nodes 2.4 × (pieces held for minutes fetched again at each node's
      // tail). A liar's pieces wait until the swarm has everything else.
      if (this.#swarmProgressAt === -Infinity) this.#swarmProgressAt = p.busySince
      const streakMs = this.#host.busyStreakMs()
      if (this.#host.originUsable() && p.demoted !== true && now - p.busySince > streakMs && now - this.#swarmProgressAt > streakMs) {
        p.demoted = true
        this.#host.demoted(p)
      }
      return
    }
    p.failures++
    p.busyUntil = now + Math.min(MAX_FAILURE_BACKOFF_MS, FAILURE_BACKOFF_BASE_MS * 2 ** p.failures)
    if (err?.name === 'NotFoundError' || p.failures >= FAILURES_TO_FORGET_PIECE) this.#host.forgetPiece(p, i)
  }
}
