import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface MetaRequest {
  digest: Uint8Array<ArrayBuffer>
  wants: boolean
  hasOrigin: boolean
  location: string
}

export namespace MetaRequest {
  let _codec: Codec<MetaRequest>

  export const codec = (): Codec<MetaRequest> => {
    if (_codec == null) {
      _codec = message<MetaRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.digest)
        }

        if ((obj.wants != null && obj.wants !== false)) {
          w.uint32(16)
          w.bool(obj.wants)
        }

        if ((obj.hasOrigin != null && obj.hasOrigin !== false)) {
          w.uint32(24)
          w.bool(obj.hasOrigin)
        }

        if ((obj.location != null && obj.location !== '')) {
          w.uint32(34)
          w.string(obj.location)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, _opts = {}) => {
        const obj: any = {
          digest: uint8ArrayAlloc(0),
          wants: false,
          hasOrigin: false,
          location: ''
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
              obj.wants = reader.bool()
              break
            }
            case 3: {
              obj.hasOrigin = reader.bool()
              break
            }
            case 4: {
              obj.location = reader.string()
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
                field: `${prefix}.wants`,
                value: reader.bool()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.hasOrigin`,
                value: reader.bool()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.location`,
                value: reader.string()
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

  export interface MetaRequestDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MetaRequestWantsFieldEvent {
    field: '$.wants'
    value: boolean
  }

  export interface MetaRequestHasOriginFieldEvent {
    field: '$.hasOrigin'
    value: boolean
  }

  export interface MetaRequestLocationFieldEvent {
    field: '$.location'
    value: string
  }

  export function encode (obj: Partial<MetaRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MetaRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MetaRequest>): MetaRequest {
    return decodeMessage(buf, MetaRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MetaRequest>): Generator<MetaRequestDigestFieldEvent | MetaRequestWantsFieldEvent | MetaRequestHasOriginFieldEvent | MetaRequestLocationFieldEvent> {
    return streamMessage(buf, MetaRequest.codec(), opts)
  }
}

export interface MetaResponse {
  status: MetaResponse.Status
  size: bigint
  pieceSize: number
  complete: boolean
  have: Uint8Array<ArrayBuffer>
  pieceDigests: Uint8Array<ArrayBuffer>[]
  location: string
  wants: boolean
  hasOrigin: boolean
  fetching: number[]
  peers: Uint8Array<ArrayBuffer>[]
  interested: number
  running: number
}

export namespace MetaResponse {
  export enum Status {
    UNSPECIFIED = 'UNSPECIFIED',
    OK = 'OK',
    NOT_FOUND = 'NOT_FOUND',
    ERROR = 'ERROR',
    BUSY = 'BUSY'
  }

  enum __StatusValues {
    UNSPECIFIED = 0,
    OK = 1,
    NOT_FOUND = 2,
    ERROR = 3,
    BUSY = 4
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<MetaResponse>

  export const codec = (): Codec<MetaResponse> => {
    if (_codec == null) {
      _codec = message<MetaResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          MetaResponse.Status.codec().encode(obj.status, w)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(16)
          w.uint64(obj.size)
        }

        if ((obj.pieceSize != null && obj.pieceSize !== 0)) {
          w.uint32(24)
          w.uint32(obj.pieceSize)
        }

        if ((obj.complete != null && obj.complete !== false)) {
          w.uint32(32)
          w.bool(obj.complete)
        }

        if ((obj.have != null && obj.have.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.have)
        }

        if (obj.pieceDigests != null && obj.pieceDigests.length > 0) {
          for (const value of obj.pieceDigests) {
            w.uint32(50)
            w.bytes(value)
          }
        }

        if ((obj.location != null && obj.location !== '')) {
          w.uint32(58)
          w.string(obj.location)
        }

        if ((obj.wants != null && obj.wants !== false)) {
          w.uint32(64)
          w.bool(obj.wants)
        }

        if ((obj.hasOrigin != null && obj.hasOrigin !== false)) {
          w.uint32(72)
          w.bool(obj.hasOrigin)
        }

        if (obj.fetching != null && obj.fetching.length > 0) {
          for (const value of obj.fetching) {
            w.uint32(80)
            w.uint32(value)
          }
        }

        if (obj.peers != null && obj.peers.length > 0) {
          for (const value of obj.peers) {
            w.uint32(90)
            w.bytes(value)
          }
        }

        if ((obj.interested != null && obj.interested !== 0)) {
          w.uint32(96)
          w.uint32(obj.interested)
        }

        if ((obj.running != null && obj.running !== 0)) {
          w.uint32(104)
          w.uint32(obj.running)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.UNSPECIFIED,
          size: 0n,
          pieceSize: 0,
          complete: false,
          have: uint8ArrayAlloc(0),
          pieceDigests: [],
          location: '',
          wants: false,
          hasOrigin: false,
          fetching: [],
          peers: [],
          interested: 0,
          running: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = MetaResponse.Status.codec().decode(reader)
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
              obj.complete = reader.bool()
              break
            }
            case 5: {
              obj.have = reader.bytes()
              break
            }
            case 6: {
              if (opts.limits?.pieceDigests != null && obj.pieceDigests.length === opts.limits.pieceDigests) {
                throw new MaxLengthError('Decode error - repeated field "pieceDigests" had too many elements')
              }

              obj.pieceDigests.push(reader.bytes())
              break
            }
            case 7: {
              obj.location = reader.string()
              break
            }
            case 8: {
              obj.wants = reader.bool()
              break
            }
            case 9: {
              obj.hasOrigin = reader.bool()
              break
            }
            case 10: {
              if (opts.limits?.fetching != null && obj.fetching.length === opts.limits.fetching) {
                throw new MaxLengthError('Decode error - repeated field "fetching" had too many elements')
              }

              obj.fetching.push(reader.uint32())
              break
            }
            case 11: {
              if (opts.limits?.peers != null && obj.peers.length === opts.limits.peers) {
                throw new MaxLengthError('Decode error - repeated field "peers" had too many elements')
              }

              obj.peers.push(reader.bytes())
              break
            }
            case 12: {
              obj.interested = reader.uint32()
              break
            }
            case 13: {
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
          pieceDigests: 0,
          fetching: 0,
          peers: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: MetaResponse.Status.codec().decode(reader)
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
                field: `${prefix}.complete`,
                value: reader.bool()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.have`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
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
            case 7: {
              yield {
                field: `${prefix}.location`,
                value: reader.string()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.wants`,
                value: reader.bool()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.hasOrigin`,
                value: reader.bool()
              }
              break
            }
            case 10: {
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
            case 11: {
              if (opts.limits?.peers != null && obj.peers === opts.limits.peers) {
                throw new MaxLengthError('Streaming decode error - repeated field "peers" had too many elements')
              }

              yield {
                field: `${prefix}.peers[]`,
                index: obj.peers,
                value: reader.bytes()
              }

              obj.peers++

              break
            }
            case 12: {
              yield {
                field: `${prefix}.interested`,
                value: reader.uint32()
              }
              break
            }
            case 13: {
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

  export interface MetaResponseStatusFieldEvent {
    field: '$.status'
    value: MetaResponse.Status
  }

  export interface MetaResponseSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface MetaResponsePieceSizeFieldEvent {
    field: '$.pieceSize'
    value: number
  }

  export interface MetaResponseCompleteFieldEvent {
    field: '$.complete'
    value: boolean
  }

  export interface MetaResponseHaveFieldEvent {
    field: '$.have'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MetaResponsePieceDigestsFieldEvent {
    field: '$.pieceDigests[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface MetaResponseLocationFieldEvent {
    field: '$.location'
    value: string
  }

  export interface MetaResponseWantsFieldEvent {
    field: '$.wants'
    value: boolean
  }

  export interface MetaResponseHasOriginFieldEvent {
    field: '$.hasOrigin'
    value: boolean
  }

  export interface MetaResponseFetchingFieldEvent {
    field: '$.fetching[]'
    index: number
    value: number
  }

  export interface MetaResponsePeersFieldEvent {
    field: '$.peers[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface MetaResponseInterestedFieldEvent {
    field: '$.interested'
    value: number
  }

  export interface MetaResponseRunningFieldEvent {
    field: '$.running'
    value: number
  }

  export function encode (obj: Partial<MetaResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MetaResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MetaResponse>): MetaResponse {
    return decodeMessage(buf, MetaResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MetaResponse>): Generator<MetaResponseStatusFieldEvent | MetaResponseSizeFieldEvent | MetaResponsePieceSizeFieldEvent | MetaResponseCompleteFieldEvent | MetaResponseHaveFieldEvent | MetaResponsePieceDigestsFieldEvent | MetaResponseLocationFieldEvent | MetaResponseWantsFieldEvent | MetaResponseHasOriginFieldEvent | MetaResponseFetchingFieldEvent | MetaResponsePeersFieldEvent | MetaResponseInterestedFieldEvent | MetaResponseRunningFieldEvent> {
    return streamMessage(buf, MetaResponse.codec(), opts)
  }
}
