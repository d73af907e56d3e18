/**
 * Every number that governs the download engine, in one place. The rule
 * they serve is written down in docs/no-scheduler.md; the reasons for the
 * values are in docs/decisions.md.
 */

import type { DownloadInit } from './types.js'

// ---- defaults of DownloadInit ---------------------------------------------

/** Origin range requests in flight per node. */
export const DEFAULT_ORIGIN_CONCURRENCY = 4
/** Piece requests in flight per peer. */
export const DEFAULT_PER_PEER_PIPELINE = 4
/** Piece requests in flight from all peers. */
export const DEFAULT_PEER_CONCURRENCY = 24
/** Shortest wait, before the first origin request, to learn who else wants the blob. */
export const DEFAULT_GATHER_MS = 500
/** A designated peer without progress this long may lose its pieces (scaled by our own slowness). */
export const DEFAULT_STALL_MS = 4000
/** Give up finding any source after this long. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 20_000
/** Full-state gossip period while a download runs. */
export const DEFAULT_HEARTBEAT_MS = 3000
/** Stay on the topic this long after completing, to seed the first wave. */
export const DEFAULT_LINGER_MS = 30_000

// ---- timing of the engine itself ----------------------------------------------

/** The scheduler's tick: it also runs on every event, this is the floor. */
export const SCHEDULE_TICK_MS = 200
/** News from peers is acted on within this long, in one scheduling pass. */
export const WAKE_COALESCE_MS = 50
/** State changes are batched this long into one gossip message (each costs every receiver a signature check). */
export const GOSSIP_BATCH_MS = 500
/**
 * Gossip reaches every subscriber of a blob's topic, so a swarm of N sends
 * each node N messages per round: once the first wave has gathered, the
 * rounds stretch with N to keep what one node receives near this many
 * distinct messages a second. Up to 50 nodes nothing changes; at 200 a
 * change goes out every 2 s, at 1,000 every 10 s (a heartbeat every 15 s).
 * 25 halved the 200-engine simulation's gossip and made it 60 % slower
 * (stale have-sets); in 24 processes it saved no measurable CPU.
 */
export const GOSSIP_RECEIVE_BUDGET_PER_S = 100
/**
 * A node that claims no origin piece sends its full-state heartbeat this
 * many times less often (changes still go out within a batch). Heartbeats
 * keep claims fresh, so claimers keep the normal period; the others'
 * heartbeats only repair lost change messages (meta probes repair those
 * too). At 50 processes on 2 cores gossipsub was 62 % of a node's CPU
 * (inclusive, --cpu-prof), signature checks a fifth of it, and over a
 * fetch of ten minutes heartbeats were most messages: 49 peers every 3 s.
 */
export const HEARTBEAT_UNCLAIMED_FACTOR = 4
/** The heartbeat is at least this many change batches. */
export const HEARTBEAT_MIN_BATCHES = 1.5
/** Hellos repeated while the first wave forms: the first one usually leaves before the gossip mesh exists. */
export const HELLO_REPEAT_MS = [300, 900] as const
/** Views have converged once the candidate set has not changed for this long. */
export const GATHER_STABLE_MS = 500
/** Longest wait for discovery before a node that found nobody goes to the origin. */
export const MAX_GATHER_MS = 3000
/** DHT provide: best effort, bounded. */
export const PROVIDE_TIMEOUT_MS = 60_000

// ---- who is interested ------------------------------------------------------

/** A peer heard from within this many heartbeats still counts as interested. */
export const INTEREST_TTL_HEARTBEATS = 5
/** A candidate list is recomputed at least this often even when no peer news came (interest expires with time). */
export const CANDIDATES_MAX_AGE_MS = 200
/** …and at most this often however much news comes (a pass runs per event; the gather waits for stability anyway). */
export const CANDIDATES_MIN_AGE_MS = 50
/** At most one meta request per peer this often. */
export const META_INTERVAL_MS = 1000
/** A meta request that takes longer than this has failed. */
export const META_TIMEOUT_MS = 15_000
/** Connected peers asked directly (meta exchange) when the DHT knows no provider. */
export const MAX_DIRECT_PROBES = 32
/** Peers named in a meta answer's peer exchange (one more is taken, as the asker is left out). */
export const MAX_EXCHANGED_PEERS = 32
/** At most this many origin claims per gossip message (about 5 bytes each). */
export const MAX_CLAIMS = 256

// ---- a node that believes it is alone ---------------------------------------

/**
 * A node that sees no other candidate takes this many origin pieces, then
 * asks its connected peers again before it takes more: believing it is
 * alone must be cheap to test and expensive to act on.
 */
export const ALONE_FIRST_PIECES = 4
/** A view is incomplete when a candidate knows more than this many times as many interested peers as we do: we then rank ourselves against the peers we have not met too (origin-rule.ts). */
export const INCOMPLETE_VIEW_FACTOR = 2
/** A lone node looks again once the last look's answers are in, at most this often; each look that still finds nobody doubles its budget. */
export const ALONE_LOOK_AGAIN_MS = 250

// ---- taking over another node's piece ---------------------------------------

/**
 * A piece owned by a peer ranked above us passes to us only after it waited
 * TAKEOVER_BASE heartbeats plus TAKEOVER_SPACING heartbeats per rank between
 * us and the owner (staggered, so the next in rank acts first and its claim
 * reaches the rest before they act), plus up to TAKEOVER_JITTER of a spacing.
 */
export const TAKEOVER_BASE_HEARTBEATS = 2
export const TAKEOVER_SPACING_HEARTBEATS = 1
export const TAKEOVER_JITTER = 0.5
/** Before a takeover, ask this many peers ranked above us directly, and wait up to this many heartbeats for their answers. */
export const TAKEOVER_ASK_PEERS = 3
export const TAKEOVER_CONFIRM_HEARTBEATS = 0.5
/** A piece whose holders all left our view: before its owner fetches it from the origin again, it asks this many of the peers that hold the most pieces (origin-rule.ts). */
export const LOST_HOLDER_ASK_PEERS = 4
/** An owner that comes to a piece after the first takeover could have happened asks its successors first when its timers fire this many times late (Pace.slowness), or when its claims had not named the piece that long (planner.ts). */
export const OWNER_ASK_SLOWNESS = 2
/** A claim heard within this many heartbeats (plus the stall time) still holds. */
export const CLAIM_FRESH_HEARTBEATS = 3
/** …or within this many of the claimer's own rounds (the longest recent gap between its messages), if longer: a starved owner keeps its pieces while it keeps speaking at its own pace (peer-rounds.ts). */
export const CLAIM_FRESH_ROUNDS = 3
/** Each message from a peer shrinks its round estimate by this factor (unless the gap before it was longer): a peer that was starved for a while is judged by its normal pace again some twenty messages later. */
export const ROUND_DECAY = 0.9
/** Takeovers are counted per this many heartbeats; at most a fair share of the missing pieces per interval. */
export const TAKEOVER_INTERVAL_HEARTBEATS = 1
/** Our own origin pieces: a designated peer is stalled after this many times our own origin piece time. */
export const STALL_OWN_PIECE_FACTOR = 4
/** Our own event loop lag (a loaded machine) stretches patience by 1 + lag / tick, up to this factor. */
export const MAX_SLOWNESS_FACTOR = 4

// ---- peers -----------------------------------------------------------------

/** A piece's best peer is chosen among at most this many free holders. */
export const MAX_HOLDERS_CONSIDERED = 32
/** A peer answered BUSY: leave it alone this long. */
export const BUSY_BACKOFF_MS = 300
/**
 * No stall by lying (docs/security.md, "Trust rule"): while an origin is
 * usable, a peer that answered BUSY to every request for this long in a row
 * stops counting as a holder (its pieces go to the origin) until it serves one.
 */
export const BUSY_STREAK_MAX_MS = 10_000
/**
 * A peer that has claimed origin pieces without a break for this long while
 * its have-set did not grow for this long loses its claims: they are ignored
 * until its have-set grows again.
 */
export const CLAIM_STALE_MS = 10_000
/**
 * Both bounds above stretch with the swarm's own pace (a BUSY streak: 8
 * peer-piece times; a claim: the claim-freshness time of the takeover rule,
 * itself stretched by this node's slowness), but never past this: what a
 * liar can cost a fetch that has an origin.
 */
export const MAX_LIAR_PATIENCE_MS = 60_000
/** …or this many origin pieces' time, where the origin is slower than that for this node (pace.ts `liarPatienceMs`). */
export const LIAR_PATIENCE_ORIGIN_PIECES = 2
export const BUSY_STREAK_PIECE_TIMES = 8
/** After a failed request: 250 ms × 2^failures, at most 10 s. */
export const FAILURE_BACKOFF_BASE_MS = 250
export const MAX_FAILURE_BACKOFF_MS = 10_000
/** After this many failures in a row a peer's have-set entry for the piece is dropped. */
export const FAILURES_TO_FORGET_PIECE = 3
/** Starting estimate of one piece from a peer, before any was measured. */
export const INITIAL_PEER_PIECE_MS = 200
/** Weight of the newest sample in the piece-time averages. */
export const EWMA_WEIGHT = 0.2

// ---- endgame ---------------------------------------------------------------------

/** Endgame starts when at most max(ENDGAME_MIN_PIECES, n × ENDGAME_FRACTION) pieces are missing and all are requested. */
export const ENDGAME_MIN_PIECES = 4
export const ENDGAME_FRACTION = 1 / 32
/** A request is slow (worth a duplicate) after max(ENDGAME_MIN_WAIT_MS, ENDGAME_SLOW_FACTOR × the usual piece time). */
export const ENDGAME_MIN_WAIT_MS = 1000
export const ENDGAME_SLOW_FACTOR = 3

// ---- origins -----------------------------------------------------------------------

/** A whole-blob origin stream that fails with a retryable error is restarted at most this often. */
export const MAX_WHOLE_RESTARTS = 3

// ---- whole-blob mismatch ---------------------------------------------------------

/**
 * With no origin, a whole-blob mismatch is resolved from peers by testing
 * one voucher at a time ("its pieces are the wrong ones": they are fetched
 * again from peers that claim other digests); at most this many vouchers
 * are tried before the fetch fails. Each try costs the provisional pieces
 * once more, so the bound is on bandwidth a group of liars can waste.
 */
export const MAX_MISMATCH_ROUNDS = 3

/** A download's knobs: those given, the defaults above for the rest. */
export function withDefaults (init: DownloadInit): Required<DownloadInit> {
  return {
    originConcurrency: init.originConcurrency ?? DEFAULT_ORIGIN_CONCURRENCY,
    perPeerPipeline: init.perPeerPipeline ?? DEFAULT_PER_PEER_PIPELINE,
    peerConcurrency: init.peerConcurrency ?? DEFAULT_PEER_CONCURRENCY,
    inFlightBytes: init.inFlightBytes ?? Infinity,
    gatherMs: init.gatherMs ?? DEFAULT_GATHER_MS,
    stallMs: init.stallMs ?? DEFAULT_STALL_MS,
    discoveryTimeoutMs: init.discoveryTimeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS,
    heartbeatMs: init.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    lingerMs: init.lingerMs ?? DEFAULT_LINGER_MS
  }
}

/**
 * The in-flight counts of a download whose piece size is now known, cut so
 * that each count's pieces fit `inFlightBytes` (at least one, so a
 * download always moves; a 16 MiB piece may then go over a small budget).
 */
export function fitInFlight (o: Pick<Required<DownloadInit>, 'peerConcurrency' | 'originConcurrency' | 'perPeerPipeline' | 'inFlightBytes'>, pieceSize: number): { peerConcurrency: number, originConcurrency: number, perPeerPipeline: number } {
  const fit = Math.max(1, Math.floor(o.inFlightBytes / pieceSize))
  return {
    peerConcurrency: Math.min(o.peerConcurrency, fit),
    originConcurrency: Math.min(o.originConcurrency, fit),
    perPeerPipeline: Math.min(o.perPeerPipeline, fit)
  }
}
