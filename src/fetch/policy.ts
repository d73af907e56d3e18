/**
 * The download engine's choices as pure functions: which pieces first,
 * which peer for a piece, and whether this node may bring a piece into its
 * location (the rendezvous rule of docs/no-scheduler.md).
 */
import { TAKEOVER_BASE_HEARTBEATS, TAKEOVER_JITTER, TAKEOVER_SPACING_HEARTBEATS } from './constants.js'
import { claimFreshFor, patienceRound } from './peer-rounds.js'
import type { Rendezvous } from './rendezvous.js'
import type { RemotePeer } from './types.js'

interface HaveSet { get(i: number): boolean }

/** Each piece's place when the pieces are sorted by a score (ties by index), and the piece at each place. */
interface ScoreRanks { rankOf: Uint32Array, pieceAt: Uint32Array }
/** Per score function (a download passes the same one every pass): its ranks, computed once. */
const ranksCache = new WeakMap<(i: number) => number, ScoreRanks>()

function scoreRanks (n: number, score: (i: number) => number): ScoreRanks {
  const cached = ranksCache.get(score)
  if (cached != null && cached.rankOf.length === n) return cached
  const pieceAt = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => score(a) - score(b) || a - b)
  const rankOf = new Uint32Array(n)
  pieceAt.forEach((piece, rank) => { rankOf[piece] = rank })
  const r = { rankOf, pieceAt }
  ranksCache.set(score, r)
  return r
}

/**
 * Needed pieces: the next few of each streaming reader first, then rarest
 * first; ties spread per node by its own rendezvous score. Each piece
 * becomes one number — (urgent, availability, score rank) — and the numbers
 * are sorted natively: with a comparator this sort was a fifth of the
 * engine's time in a 1,000-node simulation (it runs on every pass).
 */
export function orderPieces (n: number, have: HaveSet, avail: Uint16Array, readerPositions: Iterable<number>, score: (i: number) => number): number[] {
  const { rankOf, pieceAt } = scoreRanks(n, score)
  const urgent = new Set<number>()
  for (const next of readerPositions) {
    for (let i = next; i < Math.min(n, next + READER_WINDOW); i++) if (!have.get(i)) urgent.add(i)
  }
  const keys: number[] = []
  for (let i = 0; i < n; i++) {
    if (have.get(i)) continue
    // avail < 2^16 and the flag one bit above it: the key stays an exact integer for n < 2^35
    keys.push(((urgent.has(i) ? 0 : AVAIL_RANGE) + avail[i]) * n + rankOf[i])
  }
  const sorted = Float64Array.from(keys).sort()
  const out = new Array<number>(sorted.length)
  for (let k = 0; k < sorted.length; k++) out[k] = pieceAt[sorted[k] % n]
  return out
}

/** One more than the largest availability count (a Uint16Array entry). */
const AVAIL_RANGE = 0x10000

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

/** Timing of the takeover rule (see mayFetchForLocation); every figure already scaled by our own slowness. */
export interface TakeoverTimes {
  /** One heartbeat: the unit of the staggered takeover delay. */
  heartbeatMs: number
  /** A claim heard this long ago still holds. */
  claimFreshMs: number
}

/**
 * How long a piece owned by a peer ranked above us must wait before we may
 * take it, when we rank `pos` (1 = next after the owner): a base, plus one
 * spacing per rank, plus a jitter of up to TAKEOVER_JITTER spacings (`u` in
 * [0, 1), fixed per node and piece). The staggering grows with the number of
 * candidates, so the next in rank acts first and its claim reaches the
 * others before they would act.
 */
export function takeoverDelay (pos: number, u: number, t: Pick<TakeoverTimes, 'heartbeatMs'>): number {
  return t.heartbeatMs * (TAKEOVER_BASE_HEARTBEATS + TAKEOVER_SPACING_HEARTBEATS * (pos - 1 + TAKEOVER_JITTER * u))
}

/**
 * The rendezvous rule: `self` may fetch piece i into its location when it
 * ranks first among the candidates there. Ranked lower, it may take the
 * piece over only after the piece waited `takeoverDelay` (since
 * `waitingSince`), and only while no peer ranked above it holds a fresh
 * claim on it (fetching it, or about to). Being slow is never enough to lose
 * a piece — a live owner re-announces its claims every heartbeat; on a
 * loaded machine everyone is slow, and taking over then multiplies origin
 * traffic. `pos` is self's rank when the caller already knows it.
 */
export function mayFetchForLocation (self: string, i: number, cands: RemotePeer[], rv: Rendezvous, now: number, t: TakeoverTimes, waitingSince: number, pos?: number): boolean {
  pos ??= rv.position(self, cands.map(p => p.key), i)
  if (pos === 0) return true
  if (now - waitingSince < takeoverDelay(pos, rv.unit(self, i), t)) return false
  const mine = rv.score(self, i)
  for (const p of cands) {
    const s = rv.score(p.key, i)
    if (s < mine || (s === mine && p.key > self)) continue // ranked below us
    const claimedAt = p.fetching.get(i)
    if (claimedAt != null && now - claimedAt < claimFreshFor(patienceRound(p), t.claimFreshMs)) return false
  }
  return true
}

/** At most a fair share of the missing pieces may be taken over per interval: missing ÷ (candidates + 1), at least one. */
export function fairShare (missing: number, candidates: number): number {
  return Math.max(1, Math.ceil(missing / (candidates + 1)))
}
