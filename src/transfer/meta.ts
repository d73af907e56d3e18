import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import { pbStream } from '@libp2p/utils'
import * as Digest from 'multiformats/hashes/digest'
import { Bitfield, digestFromBytes, MAX_PIECE_SIZE, parseDigest, pieceCount } from '../content/index.js'
import { BusyError, ProtocolError } from '../errors.js'
import { MetaRequest, MetaResponse } from './pb/meta.js'
import { MAX_EXCHANGED_PEERS, MAX_FETCHING, MAX_LOCATION_LENGTH, MAX_PEER_ID_BYTES, MAX_META_RESPONSE_BYTES, MAX_REQUEST_BYTES, MAX_REQUEST_LOCATION, META_REQUEST_TIMEOUT_MS } from './limits.js'
import type { MetaLimit } from './meta-limit.js'
import { toProtocolError, withTimeout } from './util.js'
import type { BlobInterest, BlobMeta, InterestExchange, LocalBlobs, MetaAnswer } from './types.js'
import type { Logger } from '../types.js'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { META_PROTOCOL } from './types.js'
import { ioTimeoutSignal } from '../utils/io-timeout.js'

export interface MetaServerContext {
  localBlobs: LocalBlobs
  /** Records the asker's interest and gives ours; without it, interest is neither taken nor told. */
  interest?: InterestExchange
  /** Who asked. */
  peer: string
  location: () => string
  log: Logger
  /** Per-peer admission; without it every request is answered. */
  limit?: MetaLimit
}

/** What a peer over its meta rate gets: a few bytes, no store read, no interest recorded. */
const BUSY_ANSWER: Partial<MetaResponse> = { status: MetaResponse.Status.BUSY }

/** The answer's size on the wire, near enough to price it: the digests and the have-set are nearly all of it. */
function answerBytes (res: Partial<MetaResponse>): number {
  return (res.have?.byteLength ?? 0) + 34 * (res.pieceDigests?.length ?? 0)
}

/** Serves the one request of an inbound meta stream, then half-closes. */
export async function serveMeta (stream: Stream, ctx: MetaServerContext): Promise<void> {
  const signal = ioTimeoutSignal(META_REQUEST_TIMEOUT_MS)
  try {
    const pb = pbStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
    const req = await pb.read(MetaRequest, { signal })
    if (req.digest.byteLength !== 32) throw new ProtocolError(`meta request digest is ${req.digest.byteLength} bytes`)
    const digest = digestFromBytes(req.digest).digest
    // Admission before any work: a flood of 34-byte requests must not buy store reads or piece-map-sized answers.
    if (ctx.limit != null && !ctx.limit.admit(ctx.peer)) {
      await busy(stream, pb, signal, ctx)
      return
    }
    const theirs = req.wants || req.hasOrigin ? { wants: req.wants, hasOrigin: req.hasOrigin, location: req.location.slice(0, MAX_LOCATION_LENGTH) } : undefined
    const ours = ctx.interest?.exchange(ctx.peer, digest, theirs)
    const res = await answer(digest, ctx, signal)
    if (ctx.limit != null && !ctx.limit.admitBytes(ctx.peer, answerBytes(res))) {
      await busy(stream, pb, signal, ctx)
      return
    }
    if (ours != null && res.status !== MetaResponse.Status.ERROR) {
      res.wants = ours.wants
      res.hasOrigin = ours.hasOrigin
      res.fetching = ours.fetching ?? []
      res.running = Math.min(ours.running ?? 0, res.fetching.length)
      res.location ??= ctx.location()
      res.peers = encodePeers((ours.peers ?? []).filter(k => k !== ctx.peer))
      res.interested = ours.interested ?? 0
    }
    await pb.write(res, MetaResponse, { signal })
    await stream.close({ signal })
  } catch (err: any) {
    ctx.log.debug({ err }, 'meta stream failed')
    stream.abort(err instanceof Error ? err : new ProtocolError(String(err)))
  }
}

async function busy (stream: Stream, pb: ReturnType<typeof pbStream>, signal: AbortSignal, ctx: MetaServerContext): Promise<void> {
  ctx.log.debug({ peer: ctx.peer }, 'meta: over the rate limit, answered BUSY')
  await pb.write(BUSY_ANSWER, MetaResponse, { signal })
  await stream.close({ signal })
}

async function answer (digest: string, ctx: MetaServerContext, signal: AbortSignal): Promise<Partial<MetaResponse>> {
  let meta: Awaited<ReturnType<LocalBlobs['meta']>>
  try {
    meta = await ctx.localBlobs.meta(digest, { signal })
  } catch (err) {
    // A failing store is our problem, not the peer's: say so and keep the stream clean.
    ctx.log.warn({ err, digest }, 'meta: reading local blob failed')
    return { status: MetaResponse.Status.ERROR }
  }
  if (meta == null) return { status: MetaResponse.Status.NOT_FOUND }
  return {
    status: MetaResponse.Status.OK,
    size: BigInt(meta.size),
    pieceSize: meta.pieceSize,
    complete: meta.complete,
    have: meta.have.bytes as Uint8Array<ArrayBuffer>,
    pieceDigests: meta.pieceDigests.map(d => (d ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer>),
    location: ctx.location()
  }
}

/**
 * Asks `peer` what it holds of `digest` and, with `mine`, tells it our
 * interest; the answer carries the peer's own interest when it has one.
 */
export async function requestMeta (
  dialProtocol: Libp2p['dialProtocol'], peer: PeerId, digest: string, timeoutMs: number,
  options: { signal?: AbortSignal } = {}, mine?: BlobInterest
): Promise<MetaAnswer> {
  const bytes = parseDigest(digest).bytes
  const signal = withTimeout(options.signal, timeoutMs)
  let stream: Stream | undefined
  try {
    stream = await dialProtocol(peer, META_PROTOCOL, { signal })
    const pb = pbStream(stream, { maxDataLength: MAX_META_RESPONSE_BYTES, maxBufferSize: MAX_META_RESPONSE_BYTES + 64 * 1024 })
    await pb.write({
      digest: bytes as Uint8Array<ArrayBuffer>,
      wants: mine?.wants ?? false,
      hasOrigin: mine?.hasOrigin ?? false,
      // older servers read at most MAX_REQUEST_BYTES: a longer label is left out
      location: (mine?.location.length ?? 0) <= MAX_REQUEST_LOCATION ? (mine?.location ?? '') : ''
    }, MetaRequest, { signal })
    const res = await pb.read(MetaResponse, { signal })
    const meta = validateMeta(digest, res)
    const interest = validateInterest(res, meta)
    await stream.close({ signal })
    return { meta, interest }
  } catch (err) {
    const e = toProtocolError(err, options.signal, `meta request to ${peer.toString()} failed`)
    stream?.abort(e)
    throw e
  }
}

/** Peer ids (strings) as multihash bytes, at most MAX_EXCHANGED_PEERS; an id that does not parse is left out. */
function encodePeers (keys: string[]): Array<Uint8Array<ArrayBuffer>> {
  const out: Array<Uint8Array<ArrayBuffer>> = []
  for (const k of keys) {
    if (out.length >= MAX_EXCHANGED_PEERS) break
    try { out.push(peerIdFromString(k).toMultihash().bytes as Uint8Array<ArrayBuffer>) } catch {}
  }
  return out
}

/** A peer exchange from the wire: too many entries is a malformed answer; an entry that is not a peer id is skipped. */
function decodePeers (list: Uint8Array[]): string[] {
  if (list.length > MAX_EXCHANGED_PEERS) throw new ProtocolError(`meta names ${list.length} peers, at most ${MAX_EXCHANGED_PEERS}`)
  const out: string[] = []
  for (const b of list) {
    if (b.byteLength > MAX_PEER_ID_BYTES) continue
    try { out.push(peerIdFromMultihash(Digest.decode(b)).toString()) } catch {}
  }
  return out
}

/** The responder's interest, when it sent one (older peers never do; a peer not fetching the blob sends none either). */
export function validateInterest (res: MetaResponse, meta: BlobMeta | undefined): BlobInterest | undefined {
  if (res.status === MetaResponse.Status.ERROR || (!res.wants && !res.hasOrigin && res.fetching.length === 0)) return undefined
  if (res.location.length > MAX_LOCATION_LENGTH) throw new ProtocolError('meta location label too long')
  const n = meta != null ? pieceCount(meta.size, meta.pieceSize) : Infinity
  if (res.fetching.length > MAX_FETCHING) throw new ProtocolError(`meta lists ${res.fetching.length} origin claims`)
  if (res.running > res.fetching.length) throw new ProtocolError(`meta says ${res.running} of ${res.fetching.length} origin claims are running`)
  // claims past the piece count are dropped: the running ones are those left of the first `running`
  const running = res.fetching.slice(0, res.running).filter(i => i < n).length
  return { wants: res.wants, hasOrigin: res.hasOrigin, location: res.location, fetching: res.fetching.filter(i => i < n), running, peers: decodePeers(res.peers), interested: res.interested }
}

/** Checks every field of a peer's answer: nothing from the wire is trusted blindly. */
export function validateMeta (digest: string, res: MetaResponse): BlobMeta | undefined {
  switch (res.status) {
    case MetaResponse.Status.OK: break
    case MetaResponse.Status.NOT_FOUND: return undefined
    case MetaResponse.Status.ERROR: throw new ProtocolError('peer failed to read the blob')
    case MetaResponse.Status.BUSY: throw new BusyError('peer is over its meta rate limit for us: ask later')
    default: throw new ProtocolError(`meta response has status ${String(res.status)}`)
  }
  const size = Number(res.size)
  if (!Number.isSafeInteger(size)) throw new ProtocolError('meta size out of range')
  const pieceSize = res.pieceSize
  if (pieceSize <= 0 || (pieceSize & (pieceSize - 1)) !== 0 || pieceSize > MAX_PIECE_SIZE) {
    throw new ProtocolError(`meta piece size ${pieceSize} is not a power of two up to ${MAX_PIECE_SIZE}`)
  }
  const n = pieceCount(size, pieceSize)
  if (res.pieceDigests.length !== n) throw new ProtocolError(`meta lists ${res.pieceDigests.length} piece digests, expected ${n}`)
  const pieceDigests = res.pieceDigests.map(d => {
    if (d.byteLength === 0) return undefined
    if (d.byteLength !== 32) throw new ProtocolError(`meta piece digest is ${d.byteLength} bytes`)
    return d
  })
  if (res.have.byteLength !== Math.ceil(n / 8)) throw new ProtocolError(`meta have-set is ${res.have.byteLength} bytes, expected ${Math.ceil(n / 8)}`)
  const have = new Bitfield(n, res.have)
  if (res.complete && (!have.full || pieceDigests.some(d => d == null))) {
    throw new ProtocolError('meta says complete but lacks pieces or piece digests')
  }
  if (res.location.length > MAX_LOCATION_LENGTH) throw new ProtocolError('meta location label too long')
  return { digest, size, pieceSize, complete: res.complete, have, pieceDigests, location: res.location }
}
