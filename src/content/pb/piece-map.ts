import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface PieceMapPB {
  digest: Uint8Array<ArrayBuffer>
  size: bigint
  pieceSize: number
  pieceDigests: Uint8Array<ArrayBuffer>[]
}

export namespace PieceMapPB {
  let _codec: Codec<PieceMapPB>

  export const codec = (): Codec<PieceMapPB> => {
    if (_codec == null) {
      _codec = message<PieceMapPB>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.digest)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(16)
          w.uint64(obj.size)
        }

        if ((obj.pieceSize != null && obj.pieceSize !== 0)) {
          w.uint32(24)
          w.uint32(obj.pieceSize)
        }

        if (obj.pieceDigests != null && obj.pieceDigests.length > 0) {
          for (const value of obj.pieceDigests) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          digest: uint8ArrayAlloc(0),
          size: 0n,
          pieceSize: 0,
          pieceDigests: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.digest = reader.bytes()
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
              if (opts.limits?.pieceDigests != null && obj.pieceDigests.length === opts.limits.pieceDigests) {
                throw new MaxLengthError('Decode error - repeated field "pieceDigests" had too many elements')
              }

              obj.pieceDigests.push(reader.bytes())
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
          pieceDigests: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
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
              if (opts.limits?.pieceDigests != null && obj.pieceDigests === opts.limits.pieceDigests) {
                throw new MaxLengthError('Streaming decode error - repeated field "pieceDigests" had too many elements')
              }

              yield {
                field: `${prefix}.pieceDigests[]`,
                index: obj.pieceDigests,
                value: reader.bytes()
              }

              obj.pieceDigests++

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

  export interface PieceMapPBDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PieceMapPBSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface PieceMapPBPieceSizeFieldEvent {
    field: '$.pieceSize'
    value: number
  }

  export interface PieceMapPBPieceDigestsFieldEvent {
    field: '$.pieceDigests[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PieceMapPB>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PieceMapPB.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceMapPB>): PieceMapPB {
    return decodeMessage(buf, PieceMapPB.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceMapPB>): Generator<PieceMapPBDigestFieldEvent | PieceMapPBSizeFieldEvent | PieceMapPBPieceSizeFieldEvent | PieceMapPBPieceDigestsFieldEvent> {
    return streamMessage(buf, PieceMapPB.codec(), opts)
  }
}
