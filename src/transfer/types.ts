import type { Bitfield } from '../content/index.js'
import type { AbortOptions } from '../types.js'
import type { PeerId } from '@libp2p/interface'

export const META_PROTOCOL = '/starling/meta/1.0.0'
export const PIECE_PROTOCOL = '/starling/piece/1.0.0'

/** What a node says it holds of a blob (answer of the meta protocol). */
export interface BlobMeta {
  digest: string
  size: number
  pieceSize: number
  /** true when the responder holds the whole verified blob. */
  complete: boolean
  have: Bitfield
  /** Known piece digests (32 bytes), undefined where unknown. Full when complete. */
  pieceDigests: Array<Uint8Array | undefined>
  /** The responder's location label ('' when none). */
  location: string
}

/**
 * A node's interest in one blob, carried both ways on the meta protocol (the
 * asker's in the request, the responder's in the answer), so interest is
 * known from a second channel besides gossip.
 */
export interface BlobInterest {
  /** Fetching the blob now. */
  wants: boolean
  /** Can reach an origin for it. */
  hasOrigin: boolean
  location: string
  /** Pieces claimed for the origin (fetching now or next); answers only. */
  fetching?: number[]
  /** How many of `fetching`, from the start, are origin requests already running (r4). */
  running?: number
  /** Peer exchange, answers only: other peers (ids) that want the blob and can reach an origin, as the responder knows them… */
  peers?: string[]
  /** …and how many such peers it knows in all. */
  interested?: number
}

/** One meta exchange: what the peer holds (undefined when nothing) and its interest (undefined from peers that do not send it). */
export interface MetaAnswer {
  meta?: BlobMeta
  interest?: BlobInterest
}

/**
 * Where the transfer server learns and tells interest: `exchange` records
 * the asker's interest (if sent) with the running download of that blob and
 * returns this node's own (undefined when it is not fetching the blob).
 */
export interface InterestExchange {
  exchange(peer: string, digest: string, theirs: BlobInterest | undefined): BlobInterest | undefined
}

/** What the transfer server needs from the node: read-only access to local blobs. */
export interface LocalBlobs {
  meta(digest: string, options?: AbortOptions): Promise<Omit<BlobMeta, 'location'> | undefined>
  /**
   * A held piece, to be read in parts (an upload never holds a whole piece:
   * docs/memory.md), or undefined if not held.
   */
  openPiece(digest: string, index: number, options?: AbortOptions): Promise<PieceBytes | undefined>
}

/** A held piece's bytes, read in parts. */
export interface PieceBytes {
  readonly length: number
  /** Bytes [offset, offset + length) of the piece (cut at its end). */
  read(offset: number, length: number, options?: AbortOptions): Promise<Uint8Array>
}

/** A pipelined piece exchange with one peer for one blob. */
export interface PieceSession {
  /**
   * Asks for piece `index`; resolves with its bytes (length-checked, NOT yet
   * hash-verified: the caller owns verification). Many calls may be in flight
   * at once; they share one stream. Rejects with ProtocolError on a broken
   * stream or a NOT_FOUND/BUSY answer (err.name tells; BUSY carries `busy`).
   */
  get(index: number, options?: AbortOptions): Promise<Uint8Array>
  close(): void
}

export interface TransferClient {
  /** undefined when the peer does not know the blob. */
  meta(peer: PeerId, digest: string, options?: AbortOptions): Promise<BlobMeta | undefined>
  /** A meta request that also tells the peer our interest and returns its own. */
  exchange(peer: PeerId, digest: string, mine: BlobInterest | undefined, options?: AbortOptions): Promise<MetaAnswer>
  session(peer: PeerId, digest: string, pieceSize: number): PieceSession
}

export interface TransferStats {
  uploadedBytes: number
  piecesServed: number
  activeUploads: number
}
