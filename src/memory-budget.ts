/**
 * What a memory limit (`--memory-limit`, `StarlingNodeOptions.memoryLimit`)
 * turns into: the sizes of everything in a node that holds bytes in
 * proportion to its work. Pure: one limit in, numbers out; `node.ts` hands
 * them to the layers and the daemon's launcher turns the process part into
 * Node and V8 settings (src/daemon/relaunch.ts). What each knob bounds, and
 * the measurements behind the numbers: docs/memory.md.
 */

import { ConfigError } from './errors.js'

const KiB = 1024
const MiB = 1024 * KiB

/** Below this a daemon cannot even start its libp2p stack and serve (refused with a ConfigError). */
export const MIN_MEMORY_LIMIT = 64 * MiB

/**
 * What a node holds before it moves a byte, and keeps holding: the pages of
 * the Node binary it runs (about 45 MiB here, file-backed), V8's isolate and
 * the JS heap of libp2p, gossipsub, the DHT, pino, zod and the rest (about
 * 30 MiB in use), the thread pool and the hashing worker. Measured idle
 * with the V8 settings below: bench/memory's idle phase (docs/memory.md).
 */
export const RUNTIME_FLOOR = 88 * MiB
/** Left for bytes in flight however small the limit (a 64 MiB limit then runs over: the floor alone is near it). */
export const MIN_SPARE = 16 * MiB
/** Shares of what is left over the floor: bytes being uploaded, bytes being downloaded; the rest is slack for garbage between collections. */
export const UPLOAD_SHARE = 0.35
export const DOWNLOAD_SHARE = 0.35

/** An upload holds at most: one chunk read ahead for the next piece, one in hand, and a queue of two chunks in its stream (piece-server.ts). */
export const CHUNKS_PER_UPLOAD = 4
export const MIN_UPLOAD_CHUNK = 16 * KiB
/** Piece bytes are read from disk and sent in chunks of at most this (the unlimited default, transfer/limits.ts UPLOAD_CHUNK). */
export const MAX_UPLOAD_CHUNK = 1 * MiB
/** Bytes an upload leaves queued in its stream when unlimited (transfer/limits.ts UPLOAD_QUEUE_BYTES); under a limit, two chunks. */
export const DEFAULT_UPLOAD_QUEUE = 1 * MiB
/** Uploads served at once: the default, and the fewest a limit may leave (past it, peers get BUSY and ask another holder). */
export const DEFAULT_MAX_UPLOADS = 32
export const MIN_UPLOADS = 4

/**
 * A piece from a peer is held twice for a moment: its frames as they came,
 * then the one copy that joins them (piece-session.ts), and the store
 * hashes it off the event loop from a copy of its own (content/hash.ts).
 */
export const COPIES_PER_PIECE = 3

/** js-yamux grows a stream's receive window up to this when unlimited (swarm/libp2p.ts); the initial window is the same on every node and is not ours to change. */
export const DEFAULT_MAX_STREAM_WINDOW = 16 * MiB
export const LIMITED_MAX_STREAM_WINDOW = 4 * MiB
/** Limits up to this keep yamux windows at their initial size. */
export const SMALL_LIMIT = 512 * MiB

/** LevelDB's block cache and write buffer (classic-level defaults: 8 MiB and 4 MiB). */
export const DEFAULT_STORE_CACHE = 8 * MiB
export const DEFAULT_STORE_WRITE_BUFFER = 4 * MiB
export const MIN_STORE_CACHE = 1 * MiB

/** Chunk of a blob read from disk to stream it or hash it (store/files.ts READ_CHUNK). */
export const DEFAULT_READ_CHUNK = 4 * MiB
export const MIN_READ_CHUNK = 256 * KiB

/**
 * V8's old generation: at least this, since an idle daemon already uses
 * about 30 MiB of heap (bench/memory) and V8 aborts the process at its limit.
 */
export const MIN_OLD_SPACE = 48 * MiB
export const OLD_SPACE_SHARE = 0.5
/** V8's young generation (semi-space) grows to 16 MiB by default; one MiB of it per this much limit. */
export const SEMI_SPACE_PER = 128 * MiB
export const MAX_SEMI_SPACE_MIB = 16
/** glibc malloc arenas: up to 8 per core by default, each keeping freed memory of its own. */
export const LIMITED_MALLOC_ARENAS = 2
/**
 * glibc serves allocations from this size up with their own mmap, given
 * back to the system when freed. By default the threshold rises to the
 * largest block freed (up to 32 MiB), after which piece-sized buffers come
 * from the heap, whose freed middle is kept: RSS then stays at its peak.
 */
export const LIMITED_MMAP_THRESHOLD = 32 * KiB
/** The hashing worker's V8 heap under a limit: it holds hash states and one read chunk (outside its heap). */
export const HASH_WORKER_OLD_SPACE_MIB = 8
export const HASH_WORKER_YOUNG_SPACE_MIB = 1

export interface MemoryBudget {
  /** The limit this came from, bytes (undefined: none). */
  limit?: number
  /** Uploads served at once (upload slots). */
  maxUploads: number
  /** Piece bytes read and sent per step of an upload. */
  uploadChunk: number
  /** Piece bytes an upload leaves queued in its stream before it waits. */
  uploadQueue: number
  /** Bytes of pieces in flight per download, for each of peers and the origin (fetch/constants.ts fitInFlight); Infinity: the counts alone. */
  downloadInFlight: number
  /** yamux: largest receive window a stream may grow to. */
  maxStreamWindow: number
  storeCache: number
  storeWriteBuffer: number
  readChunk: number
  /** Hash pieces on the event loop (no copy for the thread pool): src/store/level-store.ts StoreMemory. */
  hashOnLoop: boolean
  /** The hashing worker's V8 heap; undefined: Node's defaults. */
  workerLimits?: { maxOldGenerationSizeMb: number, maxYoungGenerationSizeMb: number }
  /** Settings only a new process can take (src/daemon/relaunch.ts); undefined when unlimited. */
  process?: ProcessSettings
}

export interface ProcessSettings {
  /** `--max-old-space-size`, MiB */
  maxOldSpaceMiB: number
  /** `--max-semi-space-size`, MiB */
  maxSemiSpaceMiB: number
  /** MALLOC_ARENA_MAX */
  mallocArenas: number
  /** MALLOC_MMAP_THRESHOLD_, bytes */
  mmapThreshold: number
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v))
/** The largest power of two at or below `v` (at least 1). */
const pow2Floor = (v: number): number => 2 ** Math.floor(Math.log2(Math.max(1, v)))

/** The knobs for a limit in bytes; undefined gives the defaults (no limit). ConfigError under MIN_MEMORY_LIMIT. */
export function memoryBudget (limit?: number): MemoryBudget {
  if (limit == null) {
    return {
      maxUploads: DEFAULT_MAX_UPLOADS,
      uploadChunk: MAX_UPLOAD_CHUNK,
      uploadQueue: DEFAULT_UPLOAD_QUEUE,
      downloadInFlight: Infinity,
      maxStreamWindow: DEFAULT_MAX_STREAM_WINDOW,
      storeCache: DEFAULT_STORE_CACHE,
      storeWriteBuffer: DEFAULT_STORE_WRITE_BUFFER,
      readChunk: DEFAULT_READ_CHUNK,
      hashOnLoop: false
    }
  }
  if (!Number.isFinite(limit) || limit < MIN_MEMORY_LIMIT) {
    throw new ConfigError(`a memory limit must be at least ${MIN_MEMORY_LIMIT / MiB} MiB (what the runtime itself holds is near that), got ${limit} bytes`)
  }
  const spare = Math.max(MIN_SPARE, limit - RUNTIME_FLOOR)
  const uploads = spare * UPLOAD_SHARE
  // every slot can be busy at once: the chunk is sized so that 32 of them fit
  const uploadChunk = clamp(pow2Floor(uploads / DEFAULT_MAX_UPLOADS / CHUNKS_PER_UPLOAD), MIN_UPLOAD_CHUNK, MAX_UPLOAD_CHUNK)
  const maxUploads = clamp(Math.floor(uploads / (uploadChunk * CHUNKS_PER_UPLOAD)), MIN_UPLOADS, DEFAULT_MAX_UPLOADS)
  const downloadInFlight = Math.floor(spare * DOWNLOAD_SHARE / COPIES_PER_PIECE)
  const small = limit <= SMALL_LIMIT
  return {
    limit,
    maxUploads,
    uploadChunk,
    uploadQueue: Math.min(DEFAULT_UPLOAD_QUEUE, 2 * uploadChunk),
    downloadInFlight,
    maxStreamWindow: small ? LIMITED_MAX_STREAM_WINDOW : DEFAULT_MAX_STREAM_WINDOW,
    storeCache: clamp(pow2Floor(limit / 64), MIN_STORE_CACHE, DEFAULT_STORE_CACHE),
    storeWriteBuffer: clamp(pow2Floor(limit / 128), MIN_STORE_CACHE, DEFAULT_STORE_WRITE_BUFFER),
    readChunk: clamp(pow2Floor(spare / 64), MIN_READ_CHUNK, DEFAULT_READ_CHUNK),
    // a copy of every piece for the thread pool is worth more than the main thread's ~1 ms per 2 MiB
    hashOnLoop: true,
    workerLimits: { maxOldGenerationSizeMb: HASH_WORKER_OLD_SPACE_MIB, maxYoungGenerationSizeMb: HASH_WORKER_YOUNG_SPACE_MIB },
    process: {
      maxOldSpaceMiB: Math.round(Math.max(MIN_OLD_SPACE, limit * OLD_SPACE_SHARE) / MiB),
      maxSemiSpaceMiB: clamp(pow2Floor(limit / SEMI_SPACE_PER), 1, MAX_SEMI_SPACE_MIB),
      mallocArenas: LIMITED_MALLOC_ARENAS,
      mmapThreshold: LIMITED_MMAP_THRESHOLD
    }
  }
}
