import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface PieceRequest {
  digest: Uint8Array<ArrayBuffer>
  index: number
}

export namespace PieceRequest {
  let _codec: Codec<PieceRequest>

  export const codec = (): Codec<PieceRequest> => {
    if (_codec == null) {
      _codec = message<PieceRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.digest)
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(16)
          w.uint32(obj.index)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, _opts = {}) => {
        const obj: any = {
          digest: uint8ArrayAlloc(0),
          index: 0
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
              obj.index = reader.uint32()
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
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.index`,
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

  export interface PieceRequestDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PieceRequestIndexFieldEvent {
    field: '$.index'
    value: number
  }

  export function encode (obj: Partial<PieceRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PieceRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceRequest>): PieceRequest {
    return decodeMessage(buf, PieceRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceRequest>): Generator<PieceRequestDigestFieldEvent | PieceRequestIndexFieldEvent> {
    return streamMessage(buf, PieceRequest.codec(), opts)
  }
}

export interface PieceResponse {
  index: number
  status: PieceResponse.Status
}

export namespace PieceResponse {
  export enum Status {
    UNSPECIFIED = 'UNSPECIFIED',
    OK = 'OK',
    NOT_FOUND = 'NOT_FOUND',
    BUSY = 'BUSY',
    ERROR = 'ERROR'
  }

  enum __StatusValues {
    UNSPECIFIED = 0,
    OK = 1,
    NOT_FOUND = 2,
    BUSY = 3,
    ERROR = 4
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<PieceResponse>

  export const codec = (): Codec<PieceResponse> => {
    if (_codec == null) {
      _codec = message<PieceResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(8)
          w.uint32(obj.index)
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(16)
          PieceResponse.Status.codec().encode(obj.status, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, _opts = {}) => {
        const obj: any = {
          index: 0,
          status: Status.UNSPECIFIED
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
              obj.status = PieceResponse.Status.codec().decode(reader)
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
                field: `${prefix}.status`,
                value: PieceResponse.Status.codec().decode(reader)
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

  export interface PieceResponseIndexFieldEvent {
    field: '$.index'
    value: number
  }

  export interface PieceResponseStatusFieldEvent {
    field: '$.status'
    value: PieceResponse.Status
  }

  export function encode (obj: Partial<PieceResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PieceResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceResponse>): PieceResponse {
    return decodeMessage(buf, PieceResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PieceResponse>): Generator<PieceResponseIndexFieldEvent | PieceResponseStatusFieldEvent> {
    return streamMessage(buf, PieceResponse.codec(), opts)
  }
}
