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
/** A location label longer than this is a malformed answer. */
export const MAX_LOCATION_LENGTH = 256
/** Requests a client may have sent and not yet had answered, per stream. The
 * server resets a stream that goes past it, so one stream's queue stays bounded. */
export const MAX_OUTSTANDING = 64
/** Raw piece bytes are written in chunks of this size, each paced by the upload limiter. */
export const UPLOAD_CHUNK = 256 * 1024
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
