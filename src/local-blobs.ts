import { pieceLength } from './content/index.js'
import type { BlobStore } from './store/types.js'
import type { LocalBlobs } from './transfer/types.js'

/** Read-only view of the store that the transfer server answers peers from. */
export function createLocalBlobs (store: BlobStore): LocalBlobs {
  return {
    async meta (digest, options = {}) {
      const info = await store.stat(digest, options)
      if (info == null) return undefined
      const have = await store.have(digest, options)
      const pieceDigests = await store.pieceDigests(digest, options)
      if (have == null || pieceDigests == null) return undefined
      return { digest, size: info.size, pieceSize: info.pieceSize, complete: info.complete, have, pieceDigests }
    },
    async openPiece (digest, index, options = {}) {
      const have = await store.have(digest, options)
      if (have?.get(index) !== true) return undefined
      const info = await store.stat(digest, options)
      if (info == null) return undefined
      const length = pieceLength(info.size, info.pieceSize, index)
      return {
        length,
        read: async (offset, len, o = {}) => await store.readPiece(digest, index, { ...o, offset, length: len })
      }
    }
  }
}
