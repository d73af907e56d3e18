import type { RemotePeer } from './types.js'

/**
 * Origin claims as one download heard them: which peers said they fetch
 * (or own, and will fetch next) piece i from the origin, and when. Kept both
 * per peer (`RemotePeer.fetching`, for the candidates' ranking) and per
 * piece (for `claimers`, which the rule reads for every piece on every
 * pass).
 */
export class ClaimBook {
  /** Piece → peer → when we heard its claim. */
  readonly #byPiece = new Map<number, Map<string, number>>()
  /** The same for claims whose origin request already runs (bytes flow): a second copy would be a sure duplicate. */
  readonly #running = new Map<number, Map<string, number>>()

  /**
   * When the swarm last got a first copy of a piece (from the origin, or
   * across into our group): the swarm's own origin pace. Set by the planner.
   */
  firstCopyAt = -Infinity

  /**
   * A peer's whole claim list, replacing the last one. Claims are bounded in
   * time: a peer that keeps claiming while its have-set does not grow for
   * `staleMs` (a liar holding the origin back) is ignored — once the swarm
   * as a whole brought no first copy of any piece for as long either. On a
   * starved machine an honest owner's origin piece takes minutes; while
   * other owners' pieces keep arriving, the origin is slow, not the owner
   * lying (50 processes: 176 of 179 takeovers were of pieces whose owners'
   * claims this rule had dropped). A liar's pieces wait until the swarm got
   * every other first copy, then the bound runs — as for BUSY (view.ts).
   */
  set (p: RemotePeer, pieces: readonly number[], now: number, staleMs: number, running = 0): void {
    // The same list again (most messages): only the times move. Rebuilding
    // both maps per gossip delivery was a twentieth of a 100-engine run.
    if (pieces.length > 0 && p.claimingSince != null && (p.runningClaims ?? 0) === running && sameOrder(p.fetching, pieces) && !this.#stale(p, p.claimingSince, now, staleMs)) {
      for (let k = 0; k < pieces.length; k++) {
        const i = pieces[k]
        p.fetching.set(i, now)
        this.#byPiece.get(i)?.set(p.key, now)
        if (k < running) this.#running.get(i)?.set(p.key, now)
      }
      return
    }
    for (const i of p.fetching.keys()) { this.#byPiece.get(i)?.delete(p.key); this.#running.get(i)?.delete(p.key) }
    p.fetching.clear()
    p.runningClaims = 0
    if (pieces.length === 0) { p.claimingSince = undefined; p.claimsStaleAt = undefined; return }
    p.claimingSince ??= now
    if (this.#stale(p, p.claimingSince, now, staleMs)) return
    p.runningClaims = running
    for (let k = 0; k < pieces.length; k++) {
      const i = pieces[k]
      p.fetching.set(i, now)
      add(this.#byPiece, i, p.key, now)
      if (k < running) add(this.#running, i, p.key, now)
    }
  }

  /** Peers whose origin request for piece i already runs, with when we heard it. */
  running (i: number): ReadonlyMap<string, number> | undefined {
    return this.#running.get(i)
  }

  /**
   * Claiming since `since` with no growth of its own and no first copy in
   * the swarm, each for longer than `staleMs`. Once stale, a peer's claims
   * stay ignored until its own have-set grows: the first copies our
   * takeovers of its pieces bring must not make a liar believed again.
   */
  #stale (p: RemotePeer, since: number, now: number, staleMs: number): boolean {
    if (p.claimsStaleAt != null) {
      if ((p.haveGrewAt ?? -Infinity) <= p.claimsStaleAt) return true
      p.claimsStaleAt = undefined
    }
    const stale = now - since > staleMs && now - (p.haveGrewAt ?? since) > staleMs && now - this.firstCopyAt > staleMs
    if (stale) p.claimsStaleAt = now
    return stale
  }

  /** Peers claiming piece i for the origin, with when we heard the claim. */
  claimers (i: number): ReadonlyMap<string, number> | undefined {
    return this.#byPiece.get(i)
  }
}

function add (m: Map<number, Map<string, number>>, i: number, key: string, now: number): void {
  let byPeer = m.get(i)
  if (byPeer == null) { byPeer = new Map(); m.set(i, byPeer) }
  byPeer.set(key, now)
}

/** The map's keys are exactly `list`, in its order (so `list` has no duplicates). */
function sameOrder (m: ReadonlyMap<number, number>, list: readonly number[]): boolean {
  if (m.size !== list.length) return false
  let k = 0
  for (const i of m.keys()) if (list[k++] !== i) return false
  return true
}
