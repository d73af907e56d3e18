export { createTransferServer, type TransferServer, type TransferServerComponents, type TransferServerInit } from './server.js'
export { createTransferClient, type TransferClientComponents, type TransferClientInit } from './client.js'
export { validateMeta } from './meta.js'
export * from './limits.js'
export {
  META_PROTOCOL, PIECE_PROTOCOL,
  type BlobMeta, type LocalBlobs, type PieceBytes, type PieceSession, type TransferClient, type TransferStats
} from './types.js'
