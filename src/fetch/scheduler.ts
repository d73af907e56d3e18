import { ENDGAME_FRACTION, ENDGAME_MIN_PIECES, ENDGAME_MIN_WAIT_MS, ENDGAME_SLOW_FACTOR } from './constants.js'
import { orderPieces } from './policy.js'
import type { RemotePeer } from './types.js'

/** What the scheduler asks the download to start. */
export type Action =
  | { type: 'peer', piece: number, peer: RemotePeer }
  | { type: 'origin', piece: number }
  | { type: 'whole' }

/** One request in flight for a piece (piece -1: the whole-blob stream). */
export interface AttemptView { source: string, at: number }

/**
 * Everything one scheduling pass reads. The functions read the swarm view
 * and the origin rule; none of them sends anything, so a pass only returns
 * actions and the download carries them out.
 */
export interface PlanState {
  now: number
  n: number
  have: { get(i: number): boolean, count: number }
  /** Usable holders per piece. */
  avail: Uint16Array
  attempts: ReadonlyMap<number, readonly AttemptView[]>
  /** Next piece of each streaming reader. */
  readers: number[]
  /** This node's rendezvous score of piece i: spreads equally rare pieces differently on each node. */
  score: (i: number) => number
  peerInflight: number
  originInflight: number
  peerConcurrency: number
  originConcurrency: number
  /** Usual time of one piece from a peer (for the endgame). */
  peerPieceMs: number
  /** The best peer for piece i, skipping peers already given `extra` requests this pass; undefined to wait. */
  pickPeer: (i: number, extra: ReadonlyMap<string, number>) => RemotePeer | undefined
  origin: {
    /** An origin is known, has not failed for good, and the gather phase is over. */
    usable: boolean
    ranged: boolean
    wholeRunning: boolean
    /** After a whole-blob mismatch: every piece again from the origin, none from peers. */
    only: boolean
    /** The no-scheduler rule: may this node fetch piece i from the origin now? */
    mayFetch: (i: number) => boolean
    /** May this node stream the whole blob (origins without Range)? */
    mayFetchWhole: () => boolean
  }
}

/**
 * One scheduling pass: `(state, now) → actions`. Pieces in order (readers'
 * next pieces, then rarest first); each goes to the best peer that holds it,
 * or — when no peer holds it — to the origin if the rule gives it to us;
 * once every missing piece is requested, slow requests get a second peer
 * (endgame).
 */
export function plan (s: PlanState): Action[] {
  const actions: Action[] = []
  const order = orderPieces(s.n, s.have, s.avail, s.readers, s.score)
  const extra = new Map<string, number>()
  let peerInflight = s.peerInflight
  let pending = 0
  for (const i of order) {
    if (s.attempts.has(i)) continue
    pending++
    if (s.origin.only || s.avail[i] === 0 || peerInflight >= s.peerConcurrency) continue
    const peer = s.pickPeer(i, extra)
    if (peer == null) continue
    peerInflight++
    extra.set(peer.key, (extra.get(peer.key) ?? 0) + 1)
    actions.push({ type: 'peer', piece: i, peer })
  }
  planOrigin(s, order, actions)
  if (pending === 0) planEndgame(s, actions, extra)
  return actions
}

function planOrigin (s: PlanState, order: number[], actions: Action[]): void {
  if (!s.origin.usable) return
  if (!s.origin.ranged) {
    // (Re)start the whole-blob stream — first time, or after a cut (held
    // pieces are skipped) — only while some missing piece is held by no
    // peer: once the owner's stream has put every piece in the swarm (and
    // the owner, complete, left the candidates), the rest comes from peers.
    let unheld = false
    for (let i = 0; i < s.n && !unheld; i++) unheld = !s.have.get(i) && s.avail[i] === 0
    if (unheld && !s.origin.wholeRunning && !s.attempts.has(-1) && s.origin.mayFetchWhole()) actions.push({ type: 'whole' })
    return
  }
  let inflight = s.originInflight
  const taken = new Set(actions.map(a => a.type === 'peer' ? a.piece : -1))
  for (const i of order) {
    if (inflight >= s.originConcurrency) return
    if (s.attempts.has(i) || taken.has(i)) continue
    if (!s.origin.only && s.avail[i] > 0) continue
    if (s.origin.only || s.origin.mayFetch(i)) {
      inflight++
      actions.push({ type: 'origin', piece: i })
    }
  }
}

/**
 * Endgame: when every missing piece is already requested, ask a second peer
 * for the ones in flight unusually long. Only those: a duplicate costs the
 * swarm a whole piece of upload.
 */
function planEndgame (s: PlanState, actions: Action[], extra: Map<string, number>): void {
  const missing = s.n - s.have.count
  if (s.origin.only || missing > Math.max(ENDGAME_MIN_PIECES, s.n * ENDGAME_FRACTION)) return
  for (const [i, attempts] of s.attempts) {
    if (attempts.length > 1 || i < 0) continue
    if (s.now - attempts[0].at < Math.max(ENDGAME_MIN_WAIT_MS, ENDGAME_SLOW_FACTOR * s.peerPieceMs)) continue
    const peer = s.pickPeer(i, extra)
    if (peer != null && attempts[0].source !== peer.key) {
      extra.set(peer.key, (extra.get(peer.key) ?? 0) + 1)
      actions.push({ type: 'peer', piece: i, peer })
    }
  }
}
