import type { Bitfield, PieceMap } from '../content/index.js'
import type { AbortOptions, Startable } from '../types.js'

/** What the store knows about one blob, complete or partial. */
export interface BlobInfo {
  /** `sha256:<hex>` */
  digest: string
  size: number
  pieceSize: number
  /** true once the whole sha256 matched and the file sits in blobs/sha256/. */
  complete: boolean
  /** Verified, durable pieces held. */
  piecesHeld: number
  pieceCount: number
  pinned: boolean
  /** ms since epoch. */
  createdAt: number
  /** ms since epoch; drives LRU eviction. */
  lastAccess: number
}

export interface StoreUsage {
  /** Bytes on disk counted against the quota (complete sizes + held pieces of partials). */
  bytes: number
  blobs: number
  /** Quota in bytes; Infinity when none. */
  quota: number
}

export interface GcResult {
  evicted: string[]
  freedBytes: number
}

/**
 * The local content-addressed store. Bytes live in files, the index in
 * `level`. Every method that takes a digest takes the canonical
 * `sha256:<hex>` string (parse user input with content/parseDigest first).
 *
 * Invariants:
 * - a piece counts as held only after it is durable (written and fsynced, or
 *   re-verified against its recorded digest at start-up);
 * - a blob is `complete` only after its whole sha256 matched;
 * - `evict`/`gc` never remove a pinned blob, a partial blob, or one that is
 *   `acquire`d (being read or written).
 */
export interface ReadOptions extends AbortOptions {
  /**
   * The chunks may share one buffer, overwritten by the next read: each
   * chunk is valid only until the next one is asked for. For consumers that
   * write each chunk out before pulling the next (the daemon's HTTP
   * responses): a chunk made per read was half the garbage of a 1 GiB
   * fetch under a 128 MiB limit (docs/memory.md). A store may ignore it.
   */
  reuseBuffer?: boolean
}

export interface BlobStore extends Startable {
  /** Is the complete, verified blob here? */
  has(digest: string, options?: AbortOptions): Promise<boolean>
  stat(digest: string, options?: AbortOptions): Promise<BlobInfo | undefined>
  list(options?: AbortOptions): Promise<BlobInfo[]>
  /** Removes a blob (complete or partial) and its index entries. Returns false if absent. Throws if in use. */
  delete(digest: string, options?: AbortOptions): Promise<boolean>

  /**
   * Starts (or resumes) a partial blob of a known size and piece size.
   * Returns the have-set of pieces already held. Idempotent. If the blob is
   * already complete, returns a full have-set.
   */
  open(digest: string, size: number, pieceSize: number, options?: AbortOptions): Promise<Bitfield>
  /** Have-set of a blob (full for a complete blob), or undefined if unknown. */
  have(digest: string, options?: AbortOptions): Promise<Bitfield | undefined>
  /**
   * Verifies a piece against `pieceDigest` (DigestMismatchError, nothing
   * stored, if it differs: this is where pieces from peers are checked),
   * writes it at its offset in the sparse partial file, then marks it held.
   * With `provisional` (the digest came only from a peer's claim, not from a
   * trusted source) the piece is held in memory but its digest is neither
   * recorded in the index nor returned by `pieceDigests`: after a restart the
   * piece is not held (docs/security.md, "Trust rule").
   */
  writePiece(digest: string, index: number, bytes: Uint8Array, pieceDigest: Uint8Array, options?: WritePieceOptions): Promise<void>
  /** Digests recorded for held pieces of a partial blob (undefined where not held). For a complete blob, its piece map's digests. */
  pieceDigests(digest: string, options?: AbortOptions): Promise<Array<Uint8Array | undefined> | undefined>
  /**
   * All pieces held: hashes the whole file, and if it matches `digest`
   * renames it into the content-addressed tree, stores the piece map, and
   * marks it complete. Throws DigestMismatchError if it does not match:
   * only pieces written as trusted can be right for sure, so the pieces
   * written `provisional` are dropped and the trusted ones kept (the caller
   * fetches the dropped ones again); when every held piece was trusted, the
   * partial is reset.
   */
  complete(digest: string, options?: AbortOptions): Promise<BlobInfo>
  /** The full verified piece map of a complete blob. */
  pieceMap(digest: string, options?: AbortOptions): Promise<PieceMap | undefined>

  /**
   * Reads piece `index` (must be held); with `offset`/`length`, only those
   * bytes of it (cut at the piece's end), so a server can send a piece in
   * chunks without holding it whole.
   */
  readPiece(digest: string, index: number, options?: PieceReadOptions): Promise<Uint8Array>
  /**
   * Streams bytes [offset, offset+length) of a blob; every piece the range
   * touches must be held (the caller waits for pieces first).
   */
  read(digest: string, range?: { offset?: number, length?: number }, options?: ReadOptions): AsyncIterable<Uint8Array>

  /**
   * Imports bytes as a complete blob in one pass (hash while writing to a
   * temp file, then rename). With `expectedDigest`, a mismatch throws
   * DigestMismatchError and stores nothing.
   */
  import(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: AbortOptions & { expectedDigest?: string }): Promise<{ digest: string, size: number, pieceMap: PieceMap }>

  /** Marks a blob as in use (never evicted) until the returned function is called. */
  acquire(digest: string): () => void
  pin(digest: string, pinned: boolean, options?: AbortOptions): Promise<void>
  /** Records a read for LRU ordering. */
  touch(digest: string, options?: AbortOptions): Promise<void>

  usage(): StoreUsage
  /** Evicts LRU complete blobs until usage + `needBytes` fits the quota (or `targetBytes` if given). */
  gc(options?: AbortOptions & { needBytes?: number, targetBytes?: number }): Promise<GcResult>
}

export interface WritePieceOptions extends AbortOptions {
  /** Checked only against a peer's claim: held until restart, never recorded as trusted. */
  provisional?: boolean
}

export interface StoreEvents {
  /** A blob was evicted by gc. */
  evicted?: (digest: string, size: number) => void
}

export interface PieceReadOptions extends AbortOptions {
  /** First byte within the piece (default 0). */
  offset?: number
  /** Bytes to read (default: to the piece's end). */
  length?: number
}
