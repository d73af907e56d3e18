/** Span names and attribute keys, one place, so docs/tracing.md and the tests agree with the code. */
export const TRACER_NAME = 'starling'

export const SPAN = {
  /** One `node.fetch()` of a blob: from the call until the blob is complete (or failed) in the store. */
  fetch: 'starling.fetch',
  /** One piece request to one peer. */
  piece: 'starling.piece',
  /** An origin's size/range probe. */
  originStat: 'starling.origin.stat',
  /** One origin body read: a range, or the whole blob. */
  originRead: 'starling.origin.read',
  /** The CLI's `starling get`. */
  cliGet: 'starling get'
} as const

export const ATTR = {
  digest: 'starling.digest',
  size: 'starling.size',
  pieceSize: 'starling.piece_size',
  pieceCount: 'starling.piece_count',
  piecesHeld: 'starling.pieces_held',
  piece: 'starling.piece.index',
  peer: 'starling.peer',
  bytes: 'starling.bytes',
  origin: 'starling.origin',
  rangeStart: 'starling.range.start',
  rangeEnd: 'starling.range.end',
  /** `starling.bytes.origin`, `starling.bytes.peer-local`, ...: a finished fetch's bytes by source. */
  bytesFrom: (source: string) => `starling.bytes.${source}`
} as const
