import { MAX_PIECE_MAP_BYTES } from '../content/index.js'

/** Every limit of both protocols in one place (the specs in protocols/ quote them). */

/** A meta answer carries a piece map's worth of digests (34 B each on the
 * wire) plus the have-set (1 bit a piece): 64 KiB on top of the largest
 * piece map covers both and the small fields. */
export const MAX_META_RESPONSE_BYTES = MAX_PIECE_MAP_BYTES + 64 * 1024
/** A meta or piece request is a 32-byte digest and a varint: 128 B is plenty. */
export const MAX_REQUEST_BYTES = 128
/** A piece response header is an index and a status. */
export const MAX_HEADER_BYTES = 32
/** A request's location label is sent only up to this length, so the request fits MAX_REQUEST_BYTES (which older servers enforce). */
export const MAX_REQUEST_LOCATION = 64
/** Origin claims in one meta answer (gossip carries at most 256). */
export const MAX_FETCHING = 4096
/** Peers named in one meta answer's peer exchange (protocols/meta/README.md, r3). */
export const MAX_EXCHANGED_PEERS = 32
/** A peer id multihash longer than this (an identity-hashed ed25519 key is 38 bytes) is skipped. */
export const MAX_PEER_ID_BYTES = 64
/** A location label longer than this is a malformed answer. */
export const MAX_LOCATION_LENGTH = 256
/** Requests a client may have sent and not yet had answered, per stream. The
 * server resets a stream that goes past it, so one stream's queue stays bounded. */
export const MAX_OUTSTANDING = 64
/**
 * Raw piece bytes are written in chunks of this size, each paced by the
 * upload limiter. yamux sends each chunk as one data frame (the window
 * allowing) and its reader answers every data frame with a window update,
 * a frame of its own through noise and a syscall: 1 MiB chunks send a
 * quarter of the frames 256 KiB did (docs/throughput.md).
 */
export const UPLOAD_CHUNK = 1024 * 1024
/**
 * Piece bytes a server leaves queued in a stream (beyond what the reader's
 * flow-control window took) before its writer waits: bounds the memory a
 * slow reader pins and keeps its upload slot held while its bytes wait.
 * 1 MiB (four 256 KiB chunks when it was chosen) left loopback
 * throughput as it was (piece.test.ts's 64 MiB run: 38–60 MiB/s against
 * 40–63 before, on a loaded 2-core host).
 */
export const UPLOAD_QUEUE_BYTES = 1024 * 1024
/** Per-request timeout for a piece of up to this size; bigger pieces scale it up. */
export const TIMEOUT_PIECE_SIZE = 4 * 1024 * 1024
export const DEFAULT_TIMEOUT_MS = 30_000
/** A server write that makes no progress for this long means the client stopped reading. */
export const WRITE_STALL_MS = 60_000
/** How long a meta server waits for the one request. */
export const META_REQUEST_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_UPLOADS = 32
export const DEFAULT_MAX_UPLOADS_PER_PEER = 8
export const DEFAULT_MAX_INBOUND_STREAMS = 64
/**
 * Meta answers per second to one peer. A downloader asks a peer at most once
 * a second per blob it is fetching (META_INTERVAL_MS in src/fetch), so in a
 * swarm of any size an honest peer sends about one request a second per
 * concurrent download: 20 leaves room for 20 downloads at once from one
 * peer. Without a cap a 34-byte request buys a piece-map-sized answer.
 */
export const META_ANSWERS_PER_SECOND = 20
/** Answers a peer may have at once before the rate applies: a node starting
 * many downloads probes for all of them together (and it can open at most
 * DEFAULT_MAX_INBOUND_STREAMS meta streams at once anyway). */
export const META_ANSWER_BURST = 64
/**
 * A big answer costs one more token per this many bytes, so the bytes a
 * peer can draw are bounded too (about META_ANSWERS_PER_SECOND × this per
 * second), while a probe a second of the largest blob (a 4 MiB piece map
 * costs 17 tokens) stays under the rate.
 */
export const META_ANSWER_TOKEN_BYTES = 256 * 1024
/** Peers whose meta budget is remembered; the least recently seen is forgotten first (it gets a fresh, full bucket). */
export const META_LIMIT_PEERS = 1024
/**
 * The slowest upload a server keeps going: once piece bytes have waited for
 * the reader for a whole UPLOAD_RATE_WINDOW_MS, the reader must have taken
 * at least this many bytes per second of it, or the stream is aborted and
 * its upload slots freed (WRITE_STALL_MS alone let a 1 KiB/s reader hold a
 * slot for a minute per write). 64 KiB/s is far below any loopback or LAN
 * reader: a client takes the bytes as they arrive (its download limiter is
 * taken per piece before the request, never mid-piece), and even a 100
 * Mbit/s link shared by the 32 slots gives each about 380 KiB/s. Only time in which
 * bytes were queued for the reader counts, so our own upload limiter and disk
 * never make a reader look slow.
 */
export const MIN_UPLOAD_RATE = 64 * 1024
/**
 * The window over which MIN_UPLOAD_RATE is averaged, and the grace before
 * the first judgement: 10 s (640 KiB at the minimum rate) rides out a
 * reader's GC pause or a burst of disk writes on a loaded host.
 */
export const UPLOAD_RATE_WINDOW_MS = 10_000
/** How often a piece stream samples its reader's progress. */
export const UPLOAD_RATE_TICK_MS = 1000
/** A peer cut for slowness gets this many upload slots at once… */
export const SLOW_PEER_MAX_UPLOADS = 1
/** …for this long (it is not struck: slow is not malicious). */
export const SLOW_PEER_MS = 30_000
/** Slow peers remembered at once; past it the oldest is forgotten. */
export const SLOW_PEERS_REMEMBERED = 1024
