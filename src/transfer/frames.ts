import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError } from '../errors.js'

/**
 * Splits a byte stream into varint-length-prefixed frames, synchronously, as
 * bytes arrive, handing each to `onFrame` in turn. A frame's length is checked
 * against `maxNext()` (asked after the previous frame was handled, since the
 * limit depends on what is expected next) before its
 * body is buffered, so at most one frame plus one incoming chunk is ever held.
 * Unlike @libp2p/utils' decoder it also yields empty frames, so framing can
 * never drift.
 */
export class FrameDecoder {
  readonly #buf = new Uint8ArrayList()

  push (data: Uint8Array | Uint8ArrayList, maxNext: () => number, onFrame: (frame: Uint8ArrayList) => void): void {
    this.#buf.append(data)
    while (true) {
      const head = readVarint(this.#buf)
      if (head == null) return
      const max = maxNext()
      if (head.value > max) throw new ProtocolError(`frame of ${head.value} bytes exceeds the limit of ${max}`)
      const end = head.bytes + head.value
      if (this.#buf.byteLength < end) return
      const frame = this.#buf.sublist(head.bytes, end)
      this.#buf.consume(end)
      onFrame(frame)
    }
  }
}

/** An unsigned varint of up to 4 bytes (< 2^28, far above any frame we allow). */
function readVarint (buf: Uint8ArrayList): { value: number, bytes: number } | undefined {
  let value = 0
  for (let i = 0; i < 4; i++) {
    if (i >= buf.byteLength) return undefined
    const b = buf.get(i)
    value += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) return { value, bytes: i + 1 }
  }
  throw new ProtocolError('frame length prefix too long')
}
