import * as K from './constants.js'
import type { TakeoverTimes } from './policy.js'

/**
 * One download's sense of time: how loaded this node is (timers that fire
 * late), how long pieces take from peers and from the origin, and what
 * follows from those — how often to gossip, how long a heartbeat is, how
 * patient to be with other nodes and with peers that may be lying. Every
 * figure here only stretches with load or swarm size, never shrinks below
 * its named constant: being slow yourself lengthens, never shortens, your
 * patience with others (docs/no-scheduler.md).
 */
export class Pace {
  readonly #heartbeatMs: number
  readonly #stallMs: number
  #lagMs = 0
  #lastTick: number
  /** Smoothed piece times (EWMA); 0 until the first origin piece. */
  originPieceMs = 0
  peerPieceMs = K.INITIAL_PEER_PIECE_MS

  constructor (now: number, opts: { heartbeatMs: number, stallMs: number }) {
    this.#lastTick = now
    this.#heartbeatMs = opts.heartbeatMs
    this.#stallMs = opts.stallMs
  }

  /** How long our oldest origin request still in flight has run (0: none). */
  #originWaitMs = 0

  /**
   * Called every SCHEDULE_TICK_MS: a tick that fires late says this machine
   * is loaded; `originSince` is when our oldest origin request in flight
   * started.
   */
  tick (now: number, originSince?: number): void {
    this.#lagMs = ewma(this.#lagMs, Math.max(0, now - this.#lastTick - K.SCHEDULE_TICK_MS))
    this.#lastTick = now
    this.#originWaitMs = originSince == null ? 0 : Math.max(0, now - originSince)
  }

  /**
   * How long an origin piece takes, as this node sees it: its finished ones
   * (EWMA), or its own request still running, if that is longer. Before any
   * origin piece finished anywhere, a request that has run for a minute is
   * the only measure of a starved origin — and the reason other owners have
   * shown nothing either.
   */
  originPieceEstimate (): number {
    return Math.max(this.originPieceMs, this.#originWaitMs)
  }

  /**
   * What a liar may cost us: MAX_LIAR_PATIENCE_MS, or the time of
   * LIAR_PATIENCE_ORIGIN_PIECES origin pieces where the origin is slower
   * than that. With the fixed minute, a 50-process swarm whose origin
   * pieces took over a minute each dropped its owners' claims as stale and
   * took over their pieces (all 14 takeovers of one run: nobody held the
   * piece, no claim heard — the claims had been dropped).
   */
  liarPatienceMs (): number {
    return Math.max(K.MAX_LIAR_PATIENCE_MS, K.LIAR_PATIENCE_ORIGIN_PIECES * this.originPieceEstimate())
  }

  notePeerPiece (ms: number): void { this.peerPieceMs = ewma(this.peerPieceMs, ms) }
  noteOriginPiece (ms: number): void { this.originPieceMs = this.originPieceMs === 0 ? ms : ewma(this.originPieceMs, ms) }

  /** 1 on an idle machine, up to MAX_SLOWNESS_FACTOR when timers fire late. */
  slowness (): number {
    return Math.min(K.MAX_SLOWNESS_FACTOR, 1 + this.#lagMs / K.SCHEDULE_TICK_MS)
  }

  /** Changes go out at most this often: longer in a larger swarm (GOSSIP_RECEIVE_BUDGET_PER_S). `swarm`: every peer heard from about the blob. */
  gossipBatchMs (swarm: number): number {
    return Math.max(K.GOSSIP_BATCH_MS, 1000 * swarm / K.GOSSIP_RECEIVE_BUDGET_PER_S)
  }

  /** The heartbeat: the configured one, stretched with the gossip batch in a large swarm. */
  heartbeatMs (swarm: number): number {
    return Math.max(this.#heartbeatMs, K.HEARTBEAT_MIN_BATCHES * this.gossipBatchMs(swarm))
  }

  /** The takeover rule's clock, stretched by our own slowness and our own origin piece time. */
  takeoverTimes (swarm: number): TakeoverTimes {
    const slowness = this.slowness()
    const stall = Math.max(this.#stallMs, K.STALL_OWN_PIECE_FACTOR * this.originPieceEstimate())
    const heartbeat = this.heartbeatMs(swarm)
    return { heartbeatMs: heartbeat * slowness, claimFreshMs: (stall + K.CLAIM_FRESH_HEARTBEATS * heartbeat) * slowness }
  }

  /** How long a BUSY streak is believed before its pieces may go to the origin (docs/security.md). */
  busyStreakMs (): number {
    return Math.min(this.liarPatienceMs(), Math.max(K.BUSY_STREAK_MAX_MS, K.BUSY_STREAK_PIECE_TIMES * this.peerPieceMs * this.slowness()))
  }

  /** How long claims with no growing have-set are believed. */
  claimStaleMs (swarm: number): number {
    return Math.min(this.liarPatienceMs(), Math.max(K.CLAIM_STALE_MS, this.takeoverTimes(swarm).claimFreshMs))
  }
}

export function ewma (avg: number, sample: number): number {
  return avg * (1 - K.EWMA_WEIGHT) + sample * K.EWMA_WEIGHT
}
