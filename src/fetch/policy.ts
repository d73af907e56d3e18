/**
 * The download engine's choices as pure functions: which pieces first,
 * which peer for a piece, and whether this node may bring a piece into its
 * location (the rendezvous rule of docs/no-scheduler.md).
 */
import type { Rendezvous } from './rendezvous.js'
import type { RemotePeer } from './types.js'

interface HaveSet { get(i: number): boolean }

/** Needed pieces: the next few of each streaming reader first, then rarest first; ties spread per node by its own rendezvous score. */
export function orderPieces (n: number, have: HaveSet, avail: Uint16Array, readerPositions: Iterable<number>, score: (i: number) => number): number[] {
  const need: number[] = []
  for (let i = 0; i < n; i++) if (!have.get(i)) need.push(i)
  const urgent = new Set<number>()
  for (const next of readerPositions) {
    for (let i = next; i < Math.min(n, next + READER_WINDOW); i++) if (!have.get(i)) urgent.add(i)
  }
  return need.sort((a, b) => {
    const ua = urgent.has(a) ? 0 : 1
    const ub = urgent.has(b) ? 0 : 1
    return ua - ub || avail[a] - avail[b] || score(a) - score(b)
  })
}

/** Pieces ahead of a streaming reader that jump the queue. */
export const READER_WINDOW = 4

/** Best holder: same location first, then lowest RTT, then fewest requests in flight. */
export function choosePeer (holders: Iterable<RemotePeer>, canVerify: (p: RemotePeer) => boolean, location: string, rtt: (peer: string) => number | undefined): { peer?: RemotePeer, sameLocation: boolean } {
  let peer: RemotePeer | undefined
  let bestKey = Infinity
  let sameLocation = false
  for (const p of holders) {
    if (!canVerify(p)) continue
    const same = (p.location ?? '') === location
    if (same) sameLocation = true
    const key = (same ? 0 : 1e9) + (rtt(p.key) ?? 50) * 1000 + p.inflight
    if (key < bestKey) { peer = p; bestKey = key }
  }
  return { peer, sameLocation }
}

/** Timing of the rendezvous rule (see mayFetchForLocation). */
export interface StallTimes {
  /** A peer not heard from this long is gone: its pieces pass to the next in rank. */
  deadMs: number
  /** A claim heard this long ago still holds. */
  claimMs: number
  /** A live owner that has not claimed a piece this long (its view differs) loses it. */
  unclaimedMs: number
}

/**
 * The rendezvous rule: `self` may fetch piece i into its location when it
 * ranks first among the candidates there. A peer ranked above it keeps the
 * piece while it claims it (fetching it or about to), while it is alive and
 * the piece has waited less than `unclaimedMs` (`waitingSince`), and until
 * it has been silent for `deadMs` × its lead. Being slow is never enough to
 * lose a piece: on a loaded machine everyone is slow, and taking over then
 * multiplies origin traffic (bench/swarm with 20 nodes on 2 cores).
 */
export function mayFetchForLocation (self: string, i: number, cands: RemotePeer[], rv: Rendezvous, now: number, t: StallTimes, waitingSince: number): boolean {
  const ranked = rv.rank([self, ...cands.map(p => p.key)], i)
  const pos = ranked.indexOf(self)
  const byKey = new Map(cands.map(p => [p.key, p]))
  for (let k = 0; k < pos; k++) {
    const p = byKey.get(ranked[k])
    if (p == null) continue
    const claimedAt = p.fetching.get(i)
    if (claimedAt != null && now - claimedAt < t.claimMs) return false
    const alive = now - p.lastSeen < t.deadMs * (pos - k)
    if (alive && now - waitingSince < t.unclaimedMs) return false
  }
  return true
}
