import { requestMeta } from './meta.js'
import { Session } from './piece-session.js'
import { DEFAULT_TIMEOUT_MS, TIMEOUT_PIECE_SIZE } from './limits.js'
import type { BlobMeta, PieceSession, TransferClient } from './types.js'
import type { RateLimiter } from '../utils/rate-limit.js'
import type { Libp2p, PeerId } from '@libp2p/interface'

export interface TransferClientComponents {
  dialProtocol: Libp2p['dialProtocol']
}

export interface TransferClientInit {
  /** Per request (default 30 s); piece requests get it scaled by pieceSize / 4 MiB when bigger. */
  timeoutMs?: number
  /** Paces piece requests: a piece's worth of bytes is taken before it is asked for. */
  downloadLimiter?: RateLimiter
}

export function createTransferClient (components: TransferClientComponents, init: TransferClientInit = {}): TransferClient {
  const timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS
  return {
    async meta (peer: PeerId, digest: string, options: { signal?: AbortSignal } = {}): Promise<BlobMeta | undefined> {
      return (await requestMeta(components.dialProtocol, peer, digest, timeoutMs, options)).meta
    },
    async exchange (peer, digest, mine, options = {}) {
      return await requestMeta(components.dialProtocol, peer, digest, timeoutMs, options, mine)
    },
    session (peer: PeerId, digest: string, pieceSize: number): PieceSession {
      return new Session({
        dialProtocol: components.dialProtocol,
        peer,
        digest,
        pieceSize,
        // Kraken's rule: a bigger piece may take proportionally longer.
        timeoutMs: Math.round(timeoutMs * Math.max(1, pieceSize / TIMEOUT_PIECE_SIZE)),
        downloadLimiter: init.downloadLimiter
      })
    }
  }
}
