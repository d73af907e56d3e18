// Node 20 lacks Promise.withResolvers, which libp2p 3 needs: load it first.
import './polyfill.js'

export { createNode } from './node.js'
export { createStore } from './store/index.js'
export type {
  StarlingNode, StarlingNodeOptions, StarlingNodeComponents, BlobStore, StoreInit, Fetch, FetchOptions, FetchResult, FetchProgressEvent,
  AddOptions, BlobInfo, GcResult, StoreUsage, NodeStats, PeerInfo, Origin
} from './api.js'
export type { AbortOptions, ByteSource, BytesBySource, Logger, Startable } from './types.js'
export type { OriginInfo, OriginReadOptions } from './origin/types.js'
export {
  InvalidDigestError, NotFoundError, NoSourceError, DigestMismatchError, OriginError, ProtocolError,
  ConfigError, InvalidRequestError, StoreFullError, AbortError, NotStartedError, AccessDeniedError
} from './errors.js'
export { parseDigest, digestToCid, cidToDigest, choosePieceSize } from './content/index.js'
