import { lpStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { digestFromBytes, equalBytes } from '../content/index.js'
import { ProtocolError } from '../errors.js'
import { PieceRequest, PieceResponse } from './pb/piece.js'
import { MAX_OUTSTANDING, MAX_REQUEST_BYTES, MIN_UPLOAD_RATE, UPLOAD_CHUNK, UPLOAD_QUEUE_BYTES, UPLOAD_RATE_TICK_MS, UPLOAD_RATE_WINDOW_MS, WRITE_STALL_MS } from './limits.js'
import { encodeVarint } from './varint.js'
import type { UploadSlots } from './slots.js'
import type { LocalBlobs, PieceBytes, TransferStats } from './types.js'
import type { Logger } from '../types.js'
import type { RateLimiter } from '../utils/rate-limit.js'
import type { Stream } from '@libp2p/interface'
import { ioTimeoutSignal } from '../utils/io-timeout.js'

export interface PieceServerContext {
  localBlobs: LocalBlobs
  slots: UploadSlots
  uploadLimiter?: RateLimiter
  stats: Omit<TransferStats, 'activeUploads'>
  log: Logger
  /** Bytes per second a reader must take (MIN_UPLOAD_RATE by default; 0: no minimum). */
  minUploadRate?: number
  /** The window it is averaged over (UPLOAD_RATE_WINDOW_MS by default). */
  uploadRateWindowMs?: number
  /** Piece bytes read from disk and sent per step (UPLOAD_CHUNK by default). */
  uploadChunk?: number
  /** Piece bytes left queued in the stream before the writer waits (UPLOAD_QUEUE_BYTES by default). */
  uploadQueue?: number
}

/** The reader took piece bytes more slowly than the server's minimum rate. */
export class SlowReaderError extends ProtocolError {
  override name = 'SlowReaderError'
}

/**
 * Judges one stream's reader by the bytes it takes. Bytes handed to the
 * stream minus those still queued in it are the bytes the reader (its
 * flow-control window, or the connection) let go. Only a stretch in which
 * bytes were queued at every sample is judged: an empty queue means the
 * reader keeps up or we have nothing to send (our limiter, our disk), and a
 * gap between samples means our own event loop stalled; both restart the
 * window.
 */
export class UploadRateGuard {
  readonly #minRate: number
  readonly #windowMs: number
  readonly #samples: Array<{ at: number, delivered: number }> = []
  #handed = 0

  constructor (minRate: number, windowMs: number) {
    this.#minRate = minRate
    this.#windowMs = windowMs
  }

  handed (bytes: number): void { this.#handed += bytes }

  /** Takes a sample; the reader's rate over the window when it is below the minimum, else undefined. */
  sample (queued: number, now: number): number | undefined {
    const last = this.#samples.at(-1)
    if (queued <= 0 || (last != null && now - last.at > 3 * UPLOAD_RATE_TICK_MS)) this.#samples.length = 0
    if (queued <= 0) return undefined
    this.#samples.push({ at: now, delivered: this.#handed - queued })
    // keep one sample at or before the window's start
    while (this.#samples.length > 1 && this.#samples[1].at <= now - this.#windowMs) this.#samples.shift()
    const first = this.#samples[0]
    const span = now - first.at
    if (span < this.#windowMs) return undefined
    const rate = (this.#handed - queued - first.delivered) * 1000 / span
    return rate < this.#minRate ? rate : undefined
  }
}

/** An OK answer carries the open piece and its first chunk, read ahead; the rest is read chunk by chunk as it is sent. */
type Answer = { status: PieceResponse.Status.OK, piece: PieceBytes, first: Uint8Array } | { status: Exclude<PieceResponse.Status, PieceResponse.Status.OK> }

interface Job {
  index: number
  /** Holds an upload slot until its answer is written (BUSY answers hold none). */
  slot: boolean
  answer?: Promise<Answer>
}

/** The stream's next 'drain' (some queued bytes left); rejects when it closes or the signal aborts. */
async function drained (stream: Stream, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  if (stream.status !== 'open') throw new ProtocolError(`piece stream ${stream.status}`)
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal.removeEventListener('abort', onAbort)
    }
    const onDrain = (): void => { done(); resolve() }
    const onClose = (): void => { done(); reject(new ProtocolError('piece stream closed')) }
    const onAbort = (): void => { done(); reject(signal.reason) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal.addEventListener('abort', onAbort)
  })
}

/**
 * Serves one inbound piece stream: a reader takes requests as they come (so a
 * pipelining client never waits on us to read), a writer answers them in
 * request order. A piece is read from disk a chunk at a time as it is sent,
 * and only the next job has its first chunk read ahead, so memory per
 * stream stays at a few chunks (plus the stream's queue) whatever the piece
 * size or the pipeline's depth: 32 uploads of 2 MiB pieces held 128 MiB
 * when each stream read its head piece and the next one whole
 * (bench/memory, docs/memory.md).
 */
export async function servePieces (stream: Stream, peer: string, ctx: PieceServerContext): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES, maxBufferSize: MAX_REQUEST_BYTES * MAX_OUTSTANDING * 2 })
  const ctrl = new AbortController()
  const queue: Job[] = []
  let digest: Uint8Array | undefined
  let digestStr = ''
  let readerDone = false
  let failure: Error | undefined
  let notify: (() => void) | undefined
  const wake = (): void => { const n = notify; notify = undefined; n?.() }

  const fail = (err: unknown): void => {
    if (failure != null) return
    failure = err instanceof Error ? err : new ProtocolError(String(err))
    ctrl.abort(failure)
    stream.abort(failure)
    wake()
  }

  const release = (job: Job): void => {
    if (job.slot) { job.slot = false; ctx.slots.release(peer) }
  }

  const start = (job: Job): Promise<Answer> => {
    job.answer ??= job.slot ? readAnswer(job.index) : Promise.resolve({ status: PieceResponse.Status.BUSY })
    return job.answer
  }

  const chunkSize = ctx.uploadChunk ?? UPLOAD_CHUNK
  const queueBytes = ctx.uploadQueue ?? UPLOAD_QUEUE_BYTES

  const readAnswer = async (index: number): Promise<Answer> => {
    try {
      const piece = await ctx.localBlobs.openPiece(digestStr, index, { signal: ctrl.signal })
      if (piece == null) return { status: PieceResponse.Status.NOT_FOUND }
      const first = await readChunk(piece, 0)
      return { status: PieceResponse.Status.OK, piece, first }
    } catch (err) {
      if (!ctrl.signal.aborted) ctx.log.warn({ err, digest: digestStr, index }, 'piece: reading local piece failed')
      return { status: PieceResponse.Status.ERROR }
    }
  }

  /** One chunk of a piece; a short or long read is an error, as the header has promised the length. */
  const readChunk = async (piece: PieceBytes, offset: number): Promise<Uint8Array> => {
    const want = Math.min(chunkSize, piece.length - offset)
    const bytes = await piece.read(offset, want, { signal: ctrl.signal })
    if (bytes.byteLength !== want) throw new ProtocolError(`read ${bytes.byteLength} bytes of a piece at ${offset}, expected ${want}`)
    return bytes
  }

  const minRate = ctx.minUploadRate ?? MIN_UPLOAD_RATE
  const guard = minRate > 0 ? new UploadRateGuard(minRate, ctx.uploadRateWindowMs ?? UPLOAD_RATE_WINDOW_MS) : undefined
  const watch = guard == null
    ? undefined
    : setInterval(() => {
      const rate = guard.sample(stream.writeBufferLength, Date.now())
      if (rate == null || failure != null) return
      // not a strike: slow is not malicious; the peer just gets fewer slots for a while
      ctx.slots.markSlow(peer)
      ctx.log.info({ peer, bytesPerSecond: Math.round(rate) }, 'piece: reader too slow, upload aborted')
      fail(new SlowReaderError(`reader took ${Math.round(rate)} B/s, under the minimum ${minRate} B/s`))
    }, UPLOAD_RATE_TICK_MS)
  watch?.unref?.()

  /**
   * Hands bytes to the stream and holds the writer (and so the slot) until
   * at most UPLOAD_QUEUE_BYTES are left queued in it. The stream's write buffer is
   * unbounded and its onDrain() can resolve while bytes are still queued (it
   * resolves on any window update, however small), so without this a reader
   * granting 1 KiB a second drew a whole piece into our memory and freed its
   * slot at once. A client that stops reading must not hold a slot forever:
   * WRITE_STALL_MS without any progress, or the rate guard, aborts.
   */
  const write = async (buf: Uint8Array | Uint8ArrayList): Promise<void> => {
    guard?.handed(buf.byteLength)
    stream.send(buf)
    while (stream.writeBufferLength > queueBytes) {
      await drained(stream, AbortSignal.any([ctrl.signal, ioTimeoutSignal(WRITE_STALL_MS)]))
    }
  }

  const send = async (index: number, answer: Answer): Promise<void> => {
    const header = PieceResponse.encode({ index, status: answer.status })
    const head = new Uint8ArrayList(encodeVarint(header.byteLength), header)
    if (answer.status !== PieceResponse.Status.OK) { await write(head); return }
    // The piece goes out as its own raw frame, a chunk at a time, never copied into a message.
    const { piece } = answer
    head.append(encodeVarint(piece.length))
    await write(head)
    // Past the header a failed read can only cut the stream (the writer's failure aborts it).
    for (let off = 0, chunk = answer.first; off < piece.length;) {
      await ctx.uploadLimiter?.take(chunk.byteLength, { signal: ctrl.signal })
      await write(chunk)
      ctx.stats.uploadedBytes += chunk.byteLength
      off += chunk.byteLength
      if (off < piece.length) chunk = await readChunk(piece, off)
    }
    ctx.stats.piecesServed++
  }

  const reader = async (): Promise<void> => {
    try {
      while (failure == null) {
        let buf: Uint8ArrayList
        try {
          buf = await lp.read({ signal: ctrl.signal })
        } catch (err: any) {
          // The client half-closed: no more requests, finish the ones queued.
          if (err?.name === 'UnexpectedEOFError') return
          throw err
        }
        let req: PieceRequest
        try {
          req = PieceRequest.decode(buf)
        } catch (err) {
          throw new ProtocolError('malformed piece request', { cause: err })
        }
        checkDigest(req.digest)
        if (queue.length >= MAX_OUTSTANDING) throw new ProtocolError(`more than ${MAX_OUTSTANDING} requests outstanding`)
        queue.push({ index: req.index, slot: ctx.slots.tryAcquire(peer) })
        wake()
      }
    } finally {
      readerDone = true
      wake()
    }
  }

  const checkDigest = (d: Uint8Array): void => {
    if (digest == null) {
      if (d.byteLength !== 32) throw new ProtocolError('the first piece request must carry the 32-byte blob digest')
      digest = d
      digestStr = digestFromBytes(d).digest
    } else if (d.byteLength !== 0 && !equalBytes(d, digest)) {
      throw new ProtocolError('a piece stream serves one blob: digest changed')
    }
  }

  const writer = async (): Promise<void> => {
    while (failure == null) {
      const job = queue[0]
      if (job == null) {
        if (readerDone) return
        await new Promise<void>(resolve => { notify = resolve })
        continue
      }
      const answer = start(job)
      if (queue[1] != null) void start(queue[1]) // read ahead one piece: disk and network overlap
      try {
        await send(job.index, await answer)
      } finally {
        queue.shift()
        release(job)
      }
    }
  }

  try {
    await Promise.all([reader().catch(fail), writer().catch(fail)])
  } finally {
    clearInterval(watch)
  }
  for (const job of queue) release(job)
  if (failure != null) {
    ctx.log.debug({ err: failure, peer }, 'piece stream aborted')
    return
  }
  try {
    await stream.close({ signal: ioTimeoutSignal(WRITE_STALL_MS) })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new ProtocolError(String(err)))
  }
}
