import { META_PROTOCOL, PIECE_PROTOCOL } from './types.js'
import { serveMeta } from './meta.js'
import { createMetaLimit, type MetaLimitInit } from './meta-limit.js'
import { servePieces } from './piece-server.js'
import { UploadSlots } from './slots.js'
import { DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_MAX_UPLOADS, DEFAULT_MAX_UPLOADS_PER_PEER } from './limits.js'
import type { InterestExchange, LocalBlobs, TransferStats } from './types.js'
import type { Logger, Startable } from '../types.js'
import type { RateLimiter } from '../utils/rate-limit.js'
import type { Libp2p } from '@libp2p/interface'

export interface TransferServerComponents {
  registrar: Pick<Libp2p, 'handle' | 'unhandle'>
  localBlobs: LocalBlobs
  /** The running downloads: they learn the asker's interest and tell theirs on the meta protocol. */
  interest?: InterestExchange
  /** This node's location label, read at every answer (it may change at run time). */
  location: () => string
  logger?: Logger
}

export interface TransferServerInit {
  /** Pieces served at once by this node (default 32). */
  maxUploads?: number
  /** Pieces served at once to one peer (default 8). */
  maxUploadsPerPeer?: number
  /** Paces every chunk of piece bytes sent. */
  uploadLimiter?: RateLimiter
  /** Inbound streams per connection per protocol (default 64). */
  maxInboundStreams?: number
  /** Bytes per second a reader must take of a piece once bytes have waited for it 10 s (default MIN_UPLOAD_RATE, 64 KiB/s; 0: no minimum). */
  minUploadRate?: number
  /** Per-peer rate of meta answers (defaults in limits.ts); over it a peer is answered BUSY. */
  metaLimit?: MetaLimitInit
  /** Piece bytes read and sent per step of an upload (default UPLOAD_CHUNK, 1 MiB). */
  uploadChunk?: number
  /** Piece bytes an upload leaves queued in its stream before it waits (default UPLOAD_QUEUE_BYTES, 1 MiB). */
  uploadQueue?: number
}

export interface TransferServer extends Startable {
  stats(): TransferStats
}

const silent: Logger = { debug () {}, info () {}, warn () {}, error () {} }

export function createTransferServer (components: TransferServerComponents, init: TransferServerInit = {}): TransferServer {
  const log = components.logger?.child?.({ component: 'transfer' }) ?? components.logger ?? silent
  const slots = new UploadSlots(init.maxUploads ?? DEFAULT_MAX_UPLOADS, init.maxUploadsPerPeer ?? DEFAULT_MAX_UPLOADS_PER_PEER)
  const counters = { uploadedBytes: 0, piecesServed: 0 }
  const maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS
  const metaLimit = createMetaLimit(init.metaLimit)
  let started = false

  return {
    async start () {
      if (started) return
      await components.registrar.handle(META_PROTOCOL, async (stream, connection) => {
        await serveMeta(stream, { localBlobs: components.localBlobs, interest: components.interest, peer: connection.remotePeer.toString(), location: components.location, log, limit: metaLimit })
      }, { maxInboundStreams })
      await components.registrar.handle(PIECE_PROTOCOL, async (stream, connection) => {
        await servePieces(stream, connection.remotePeer.toString(), {
          localBlobs: components.localBlobs,
          slots,
          uploadLimiter: init.uploadLimiter,
          stats: counters,
          log,
          minUploadRate: init.minUploadRate,
          uploadChunk: init.uploadChunk,
          uploadQueue: init.uploadQueue
        })
      }, { maxInboundStreams })
      started = true
    },
    async stop () {
      if (!started) return
      started = false
      await components.registrar.unhandle([META_PROTOCOL, PIECE_PROTOCOL])
    },
    stats () {
      return { uploadedBytes: counters.uploadedBytes, piecesServed: counters.piecesServed, activeUploads: slots.active }
    }
  }
}
