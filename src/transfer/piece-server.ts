import { lpStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { digestFromBytes, equalBytes } from '../content/index.js'
import { ProtocolError } from '../errors.js'
import { PieceRequest, PieceResponse } from './pb/piece.js'
import { MAX_OUTSTANDING, MAX_REQUEST_BYTES, UPLOAD_CHUNK, WRITE_STALL_MS } from './limits.js'
import { encodeVarint } from './varint.js'
import type { UploadSlots } from './slots.js'
import type { LocalBlobs, TransferStats } from './types.js'
import type { Logger } from '../types.js'
import type { RateLimiter } from '../utils/rate-limit.js'
import type { Stream } from '@libp2p/interface'

export interface PieceServerContext {
  localBlobs: LocalBlobs
  slots: UploadSlots
  uploadLimiter?: RateLimiter
  stats: Omit<TransferStats, 'activeUploads'>
  log: Logger
}

type Answer = { status: PieceResponse.Status.OK, data: Uint8Array } | { status: Exclude<PieceResponse.Status, PieceResponse.Status.OK> }

interface Job {
  index: number
  /** Holds an upload slot until its answer is written (BUSY answers hold none). */
  slot: boolean
  answer?: Promise<Answer>
}

/**
 * Serves one inbound piece stream: a reader takes requests as they come (so a
 * pipelining client never waits on us to read), a writer answers them in
 * request order. Only the head job and the next one have their bytes read,
 * so memory per stream stays at about two pieces however deep the pipeline.
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

  const readAnswer = async (index: number): Promise<Answer> => {
    try {
      const data = await ctx.localBlobs.readPiece(digestStr, index, { signal: ctrl.signal })
      if (data == null) return { status: PieceResponse.Status.NOT_FOUND }
      return { status: PieceResponse.Status.OK, data }
    } catch (err) {
      if (!ctrl.signal.aborted) ctx.log.warn({ err, digest: digestStr, index }, 'piece: reading local piece failed')
      return { status: PieceResponse.Status.ERROR }
    }
  }

  const write = async (buf: Uint8Array | Uint8ArrayList): Promise<void> => {
    if (stream.send(buf)) return
    // A client that stops reading must not hold an upload slot forever.
    await stream.onDrain({ signal: AbortSignal.any([ctrl.signal, AbortSignal.timeout(WRITE_STALL_MS)]) })
  }

  const send = async (index: number, answer: Answer): Promise<void> => {
    const header = PieceResponse.encode({ index, status: answer.status })
    const head = new Uint8ArrayList(encodeVarint(header.byteLength), header)
    if (answer.status !== PieceResponse.Status.OK) { await write(head); return }
    // The piece goes out as its own raw frame, sliced, never copied into a message.
    const { data } = answer
    head.append(encodeVarint(data.byteLength))
    await write(head)
    for (let off = 0; off < data.byteLength; off += UPLOAD_CHUNK) {
      const chunk = data.subarray(off, off + UPLOAD_CHUNK)
      await ctx.uploadLimiter?.take(chunk.byteLength, { signal: ctrl.signal })
      await write(chunk)
      ctx.stats.uploadedBytes += chunk.byteLength
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

  await Promise.all([reader().catch(fail), writer().catch(fail)])
  for (const job of queue) release(job)
  if (failure != null) {
    ctx.log.debug({ err: failure, peer }, 'piece stream aborted')
    return
  }
  try {
    await stream.close({ signal: AbortSignal.timeout(WRITE_STALL_MS) })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new ProtocolError(String(err)))
  }
}
