import { pieceRange } from '../content/index.js'
import type { Origin } from '../origin/types.js'
import type { PieceSession } from '../transfer/types.js'
import { readOriginRange } from './origin-piece.js'
import type { PieceBuffers } from './piece-buffers.js'
import type { RemotePeer } from './types.js'

/**
 * Where one piece comes from: a peer, or a ranged origin request. The
 * download runs every request through the same bookkeeping (attempts,
 * timing, wake-ups) whatever the source; the whole-blob origin stream,
 * which yields every piece in order from one request, is the third path
 * (origin-piece.ts, readOriginWhole).
 */
export interface PieceSource {
  /** 'origin' or the peer's key: whom the attempt is with. */
  readonly key: string
  /** The bytes of piece i: length-checked, not yet verified. */
  get(i: number, signal: AbortSignal): Promise<Uint8Array>
  /** The bytes `get` gave are no longer read by anyone: the source may reuse them. */
  done?(bytes: Uint8Array): void
}

/** A peer, over one pipelined piece session (opened on first use, kept on the peer record). */
export function peerSource (peer: RemotePeer, open: () => PieceSession): PieceSource {
  return {
    key: peer.key,
    async get (i, signal) {
      peer.session ??= open()
      return await peer.session.get(i, { signal })
    }
  }
}

/** One Range request per piece, read into a buffer from `buffers` and given back to it when done. */
export function rangedOriginSource (origin: Origin, size: number, pieceSize: number, buffers: PieceBuffers): PieceSource {
  return {
    key: 'origin',
    async get (i, signal) {
      const { start, end } = pieceRange(size, pieceSize, i)
      const buf = buffers.take(end - start)
      try {
        return await readOriginRange(origin, start, end, signal, buf)
      } catch (err) {
        buffers.give(buf)
        throw err
      }
    },
    done (bytes) {
      if (Buffer.isBuffer(bytes)) buffers.give(bytes)
    }
  }
}
