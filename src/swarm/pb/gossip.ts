import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface BlobGossip {
  location: string
  size: bigint
  pieceSize: number
  have: Uint8Array<ArrayBuffer>
  complete: boolean
  hasOrigin: boolean
  pieces: PieceDigest[]
  fetching: number[]
  leaving: boolean
  running: number
}

export namespace BlobGossip {
  let _codec: Codec<BlobGossip>

  export const codec = (): Codec<BlobGossip> => {
    if (_codec == null) {
      _codec = message<BlobGossip>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.location != null && obj.location !== '')) {
          w.uint32(10)
          w.string(obj.location)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(16)
          w.uint64(obj.size)
        }

        if ((obj.pieceSize != null && obj.pieceSize !== 0)) {
          w.uint32(24)
          w.uint32(obj.pieceSize)
        }

        if ((obj.have != null && obj.have.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.have)
        }

        if ((obj.complete != null && obj.complete !== false)) {
          w.uint32(40)
          w.bool(obj.complete)
        }

        if ((obj.hasOrigin != null && obj.hasOrigin !== false)) {
          w.uint32(48)
          w.bool(obj.hasOrigin)
        }

        if (obj.pieces != null && obj.pieces.length > 0) {
          for (const value of obj.pieces) {
            w.uint32(58)
            PieceDigest.codec().encode(value, w)
          }
        }

        if (obj.fetching != null && obj.fetching.length > 0) {
          for (const value of obj.fetching) {
            w.uint32(64)
            w.uint32(value)
          }
        }

        if ((obj.leaving != null && obj.leaving !== false)) {
          w.uint32(72)
          w.bool(obj.leaving)
        }

        if ((obj.running != null && obj.running !== 0)) {
          w.uint32(80)
          w.uint32(obj.running)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          location: '',
          size: 0n,
          pieceSize: 0,
          have: uint8ArrayAlloc(0),
          complete: false,
          hasOrigin: false,
          pieces: [],
          fetching: [],
          leaving: false,
          running: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.location = reader.string()
              break
            }
            case 2: {
              obj.size = reader.uint64()
              break
            }
            case 3: {
              obj.pieceSize = reader.uint32()
              break
            }
            case 4: {
              obj.have = reader.bytes()
              break
            }
            case 5: {
              obj.complete = reader.bool()
              break
            }
            case 6: {
              obj.hasOrigin = reader.bool()
              break
            }
            case 7: {
              if (opts.limits?.pieces != null && obj.pieces.length === opts.limits.pieces) {
                throw new MaxLengthError('Decode error - repeated field "pieces" had too many elements')
              }

              obj.pieces.push(PieceDigest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.pieces$
              }))
              break
            }
            case 8: {
              if (opts.limits?.fetching != null && obj.fetching.length === opts.limits.fetching) {
                throw new MaxLengthError('Decode error - repeated field "fetching" had too many elements')
              }

              obj.fetching.push(reader.uint32())
              break
            }
            case 9: {
              obj.leaving = reader.bool()
              break
            }
            case 10: {
              obj.running = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          pieces: 0,
          fetching: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.location`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.pieceSize`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.have`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.complete`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.hasOrigin`,
                value: reader.bool()
              }
              break
            }
            case 7: {
              if (opts.limits?.pieces != null && obj.pieces === opts.limits.pieces) {
                throw new MaxLengthError('Streaming decode error - repeated field "pieces" had too many elements')
              }

              for (const evt of PieceDigest.codec().stream(reader, reader.uint32(), `${prefix}.pieces[]`, {
                limits: opts.limits?.pieces$
              })) {
                yield {
                  ...evt,
                  index: obj.pieces
                }
              }

              obj.pieces++

              break
            }
            case 8: {
              if (opts.limits?.fetching != null && obj.fetching === opts.limits.fetching) {
                throw new MaxLengthError('Streaming decode error - repeated field "fetching" had too many elements')
              }

              yield {
                field: `${prefix}.fetching[]`,
                index: obj.fetching,
                value: reader.uint32()
              }

              obj.fetching++

              break
            }
            case 9: {
              yield {
                field: `${prefix}.leaving`,
                value: reader.bool()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.running`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface BlobGossipLocationFieldEvent {
    field: '$.location'
    value: string
  }

  export interface BlobGossipSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface BlobGossipPieceSizeFieldEvent {
    field: '$.pieceSize'
    value: number
  }

  export interface BlobGossipHaveFieldEvent {
    field: '$.have'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BlobGossipCompleteFieldEvent {
    field: '$.complete'
    value: boolean
  }

  export interface BlobGossipHasOriginFieldEvent {
    field: '$.hasOrigin'
    value: boolean
  }

  export interface BlobGossipPiecesIndexFieldEvent {
    field: '$.pieces[].index'
    value: number
    index: number
  }

  export interface BlobGossipPiecesDigestFieldEvent {
    field: '$.pieces[].digest'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface BlobGossipFetchingFieldEvent {
    field: '$.fetching[]'
    index: number
    value: number
  }

  export interface BlobGossipLeavingFieldEvent {
    field: '$.leaving'
    value: boolean
  }

  export interface BlobGossipRunningFieldEvent {
    field: '$.running'
    value: number
  }

  export function encode (obj: Partial<BlobGossip>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BlobGossip.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BlobGossip>): BlobGossip {
    return decodeMessage(buf, BlobGossip.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BlobGossip>): Generator<BlobGossipLocationFieldEvent | BlobGossipSizeFieldEvent | BlobGossipPieceSizeFieldEvent | BlobGossipHaveFieldEvent | BlobGossipCompleteFieldEvent | BlobGossipHasOriginFieldEvent | BlobGossipPiecesIndexFieldEvent | BlobGossipPiecesDigestFieldEvent | BlobGossipFetchingFieldEvent | BlobGossipLeavingFieldEvent | BlobGossipRunningFieldEvent> {
    return streamMessage(buf, BlobGossip.codec(), opts)
  }
}

export interface PieceDigest {
  index: number
  digest: Uint8Array<ArrayBuffer>
}

export namespace PieceDigest {
  let _codec: Codec<PieceDigest>

  export const codec = (): Codec<PieceDigest> => {
    if (_codec == null) {
      _codec = message<PieceDigest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(8)
          w.uint32(obj.index)
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.digest)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, _opts = {}) => {
        const obj: any = {
          index: 0,
          digest: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.index = reader.uint32()
              break
            }
            case 2: {
              obj.digest = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, _opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.index`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PieceDigestIndexFieldEvent {
    field: '$.index'
    value: number
  }

  export interface PieceDigestDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PieceDigest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PieceDigest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceDigest>): PieceDigest {
    return decodeMessage(buf, PieceDigest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceDigest>): Generator<PieceDigestIndexFieldEvent | PieceDigestDigestFieldEvent> {
    return streamMessage(buf, PieceDigest.codec(), opts)
  }
}
