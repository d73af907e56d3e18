import { MAX_PIECE_SIZE, parseDigest } from '../content/index.js'
import { AbortError, BusyError, InvalidRequestError, NotFoundError, ProtocolError } from '../errors.js'
import { PieceRequest, PieceResponse } from './pb/piece.js'
import { MAX_HEADER_BYTES, MAX_OUTSTANDING } from './limits.js'
import { FrameDecoder } from './frames.js'
import { encodeVarint } from './varint.js'
import { toProtocolError } from './util.js'
import type { PieceSession } from './types.js'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { RateLimiter } from '../utils/rate-limit.js'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { PIECE_PROTOCOL } from './types.js'
import { ioTimeoutSignal, setIoTimeout, type IoTimer } from '../utils/io-timeout.js'

export interface SessionInit {
  dialProtocol: Libp2p['dialProtocol']
  peer: PeerId
  digest: string
  pieceSize: number
  /** Per request, from when it heads the stream's queue until its answer is in. */
  timeoutMs: number
  downloadLimiter?: RateLimiter
}

interface Request {
  index: number
  resolve: (data: Uint8Array) => void
  reject: (err: Error) => void
  /** The caller gave up: its answer, when it comes, is read and dropped. */
  dropped: boolean
}

/** One open stream and the requests sent on it, oldest first. */
interface Line {
  stream: Stream
  sent: Request[]
  timer?: IoTimer
  digestSent: boolean
  /** Set between an OK header and its data frame. */
  okHeader?: PieceResponse
  broken: boolean
}

/**
 * A pipelined piece session over one stream, opened on the first get and
 * again after a break. Answers come in request order, so the oldest sent
 * request is always the one being answered.
 */
export class Session implements PieceSession {
  readonly #init: SessionInit
  readonly #digest: Uint8Array<ArrayBuffer>
  readonly #maxData: number
  #line?: Line
  #opening?: Promise<void>
  readonly #waiting: Request[] = []
  #closed = false

  constructor (init: SessionInit) {
    if (!Number.isSafeInteger(init.pieceSize) || init.pieceSize <= 0 || init.pieceSize > MAX_PIECE_SIZE) {
      throw new InvalidRequestError(`piece size ${init.pieceSize} out of range (1..${MAX_PIECE_SIZE})`)
    }
    this.#init = init
    this.#digest = parseDigest(init.digest).bytes as Uint8Array<ArrayBuffer>
    this.#maxData = init.pieceSize
  }

  async get (index: number, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const { signal } = options
    if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new InvalidRequestError(`invalid piece index ${index}`)
    if (this.#closed) throw new AbortError('session closed')
    signal?.throwIfAborted()
    // Pace before asking, not while reading: bytes not yet asked for cannot pile up.
    await this.#init.downloadLimiter?.take(this.#init.pieceSize, { signal })
    if (this.#closed) throw new AbortError('session closed')

    return await new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = (): void => {
        req.dropped = true
        const at = this.#waiting.indexOf(req)
        if (at >= 0) this.#waiting.splice(at, 1)
        reject(toProtocolError(undefined, signal, 'aborted'))
      }
      const req: Request = {
        index,
        dropped: false,
        resolve: (data) => { signal?.removeEventListener('abort', onAbort); resolve(data) },
        reject: (err) => { signal?.removeEventListener('abort', onAbort); reject(err) }
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push(req)
      this.#pump()
    })
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    const err = new AbortError('session closed')
    for (const r of this.#waiting.splice(0)) r.reject(err)
    const line = this.#line
    if (line == null) return
    this.#line = undefined
    line.broken = true // what the stream does from now on concerns nobody
    line.timer?.clear()
    if (line.sent.length > 0) {
      for (const r of line.sent.splice(0)) r.reject(err)
      line.stream.abort(err)
    } else {
      line.stream.close().catch(e => { line.stream.abort(e) })
    }
  }

  /** Sends what waits, up to the stream's outstanding limit; opens the stream when needed. */
  #pump (): void {
    if (this.#closed || this.#waiting.length === 0) return
    const line = this.#line
    if (line == null) { this.#open(); return }
    while (this.#waiting.length > 0 && line.sent.length < MAX_OUTSTANDING) {
      const req = this.#waiting.shift() as Request
      // The digest goes in the first request of a stream only (see the spec).
      const msg = PieceRequest.encode({ digest: line.digestSent ? undefined : this.#digest, index: req.index })
      line.digestSent = true
      line.sent.push(req)
      if (line.sent.length === 1) this.#arm(line)
      try {
        // Requests are tiny and at most MAX_OUTSTANDING are unanswered, so the
        // send buffer stays small without waiting for drain.
        line.stream.send(concat(encodeVarint(msg.byteLength), msg))
      } catch (err) {
        this.#break(line, err)
        return
      }
    }
  }

  #open (): void {
    if (this.#opening != null) return
    const { dialProtocol, peer, timeoutMs } = this.#init
    this.#opening = (async () => {
      let stream: Stream | undefined
      try {
        stream = await dialProtocol(peer, PIECE_PROTOCOL, { signal: ioTimeoutSignal(timeoutMs) })
        if (this.#closed) { stream.abort(new AbortError('session closed')); return }
        const line: Line = { stream, sent: [], digestSent: false, broken: false }
        this.#line = line
        this.#listen(line)
      } catch (err) {
        const e = toProtocolError(err, undefined, `opening a piece stream to ${peer.toString()} failed`)
        stream?.abort(e)
        for (const r of this.#waiting.splice(0)) r.reject(e)
      } finally {
        this.#opening = undefined
      }
      this.#pump()
    })()
  }

  /**
   * Frames are handled synchronously in the stream's message events: a fast
   * peer on loopback delivers megabytes in one macrotask, which an awaiting
   * reader (lpStream) would have to buffer whole.
   */
  #listen (line: Line): void {
    const frames = new FrameDecoder()
    const maxNext = (): number => line.okHeader != null ? this.#maxData : MAX_HEADER_BYTES
    line.stream.addEventListener('message', (evt) => {
      if (line.broken) return
      try {
        frames.push(evt.data, maxNext, frame => { if (!line.broken) this.#onFrame(line, frame) })
      } catch (err) {
        this.#break(line, err)
      }
    })
    line.stream.addEventListener('remoteCloseWrite', () => { this.#break(line, new ProtocolError('the peer closed the piece stream')) })
    line.stream.addEventListener('close', (evt) => { this.#break(line, evt.error ?? new ProtocolError('piece stream closed')) })
  }

  #onFrame (line: Line, frame: Uint8ArrayList): void {
    const req = line.sent[0]
    if (req == null) throw new ProtocolError('piece answer to no request')
    let data: Uint8Array | undefined
    let status: PieceResponse.Status
    if (line.okHeader == null) {
      const res = PieceResponse.decode(frame)
      if (res.index !== req.index) throw new ProtocolError(`piece answer for ${res.index}, expected ${req.index}`)
      if (res.status === PieceResponse.Status.OK) { line.okHeader = res; return } // the data frame follows
      if (!isKnownStatus(res.status)) throw new ProtocolError(`piece answer has status ${String(res.status)}`)
      status = res.status
    } else {
      line.okHeader = undefined
      status = PieceResponse.Status.OK
      data = frame.subarray() // the one copy: joins the chunks the frame arrived in
    }
    line.sent.shift()
    line.timer?.clear()
    if (line.sent.length > 0) this.#arm(line)
    if (!req.dropped) settle(req, status, data)
    this.#pump()
  }

  /** The stream failed (or ended): every request on it fails, the next get reopens. */
  #break (line: Line, err: unknown): void {
    if (line.broken) return
    line.broken = true
    line.timer?.clear()
    const e = err instanceof ProtocolError
      ? err
      : new ProtocolError(`piece stream to ${this.#init.peer.toString()} broke: ${(err as Error)?.message ?? String(err)}`, { cause: err })
    line.stream.abort(e)
    if (this.#line === line) this.#line = undefined
    for (const r of line.sent.splice(0)) if (!r.dropped) r.reject(e)
    this.#pump()
  }

  #arm (line: Line): void {
    line.timer?.clear()
    line.timer = setIoTimeout(() => {
      this.#break(line, new ProtocolError(`piece ${line.sent[0]?.index} from ${this.#init.peer.toString()} timed out after ${this.#init.timeoutMs} ms`))
    }, this.#init.timeoutMs)
  }
}

function isKnownStatus (s: PieceResponse.Status): boolean {
  return s === PieceResponse.Status.NOT_FOUND || s === PieceResponse.Status.BUSY || s === PieceResponse.Status.ERROR
}

function settle (req: Request, status: PieceResponse.Status, data?: Uint8Array): void {
  switch (status) {
    case PieceResponse.Status.OK: req.resolve(data as Uint8Array); break
    case PieceResponse.Status.NOT_FOUND: req.reject(new NotFoundError(`peer does not hold piece ${req.index}`)); break
    case PieceResponse.Status.BUSY: req.reject(new BusyError(`peer has no upload slot for piece ${req.index}`)); break
    default: req.reject(new ProtocolError(`peer failed to read piece ${req.index}`))
  }
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a, 0)
  out.set(b, a.byteLength)
  return out
}
