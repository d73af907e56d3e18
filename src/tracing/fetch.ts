/**
 * Spans for the download engine, put on from outside it: the engine
 * (src/fetch) imports nothing of OpenTelemetry. Three seams suffice:
 *
 * - the node facade's `fetch()` (a fetch span, parented on whatever span is
 *   active at the call: a daemon API request, a mirror request);
 * - the Origin interface (every stat and read the engine makes goes through
 *   the Origin object it is given, so wrapping that object before the call
 *   gives origin spans, parented explicitly on that fetch's span);
 * - the transfer client's piece sessions (`session(peer, digest)` names
 *   the blob, so a piece request finds its fetch span by digest).
 */
import { context, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api'
import type { Fetch, FetchOptions, StarlingNode } from '../api.js'
import { originFromUrl } from '../origin/index.js'
import type { Origin } from '../origin/types.js'
import type { PieceSession, TransferClient } from '../transfer/types.js'
import { ATTR, SPAN, TRACER_NAME } from './names.js'

export interface FetchTracing {
  /** The node with a span around every fetch (and origin spans inside it). */
  node(node: StarlingNode): StarlingNode
  /** For `createNode`'s `wrapTransfer`: a span per piece request, under its blob's fetch span. */
  transfer(client: TransferClient): TransferClient
}

export function createFetchTracing (): FetchTracing {
  const tracer = trace.getTracer(TRACER_NAME)
  // Fetches of one digest share one download: its piece requests go under the
  // first fetch still running (the one that started the download).
  const running = new Map<string, Context[]>()
  const enter = (digest: string, ctx: Context): () => void => {
    const list = running.get(digest) ?? []
    list.push(ctx)
    running.set(digest, list)
    return () => {
      const i = list.indexOf(ctx)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0 && running.get(digest) === list) running.delete(digest)
    }
  }

  function tracedFetch (node: StarlingNode, digest: string, opts: FetchOptions = {}): Fetch {
    const span = tracer.startSpan(SPAN.fetch, { kind: SpanKind.INTERNAL, attributes: { [ATTR.digest]: digest } })
    const ctx = trace.setSpan(context.active(), span)
    let leave = (): void => {}
    try {
      const origin = opts.origin == null ? undefined : traceOrigin(tracer, toOrigin(opts.origin, opts.headers), ctx)
      if (origin != null) span.setAttribute(ATTR.origin, origin.name)
      leave = enter(digest, ctx)
      const f = node.fetch(digest, {
        ...opts,
        origin,
        onProgress: (e) => {
          if (e.type === 'starling:fetch:start') {
            const d = e.detail
            span.setAttributes({ [ATTR.size]: d.size, [ATTR.pieceSize]: d.pieceSize, [ATTR.pieceCount]: d.pieceCount, [ATTR.piecesHeld]: d.piecesHeld })
          }
          opts.onProgress?.(e)
        }
      })
      Promise.resolve(f).then(r => {
        for (const [source, n] of Object.entries(r.bytesBySource)) span.setAttribute(ATTR.bytesFrom(source), n)
        span.end()
      }, err => { fail(span, err) }).finally(leave)
      return f
    } catch (err) {
      leave()
      fail(span, err)
      throw err
    }
  }

  return {
    node (node) {
      // Every member delegated by name (not spread): a node may be a class instance with its methods on the prototype.
      return {
        get peerId () { return node.peerId },
        get location () { return node.location },
        start: async (o) => { await node.start(o) },
        stop: async () => { await node.stop() },
        addresses: () => node.addresses(),
        fetch: (digest, opts) => tracedFetch(node, digest, opts),
        add: async (source, o) => await node.add(source, o),
        stat: async (digest, o) => await node.stat(digest, o),
        has: async (digest, o) => await node.has(digest, o),
        list: async (o) => await node.list(o),
        delete: async (digest, o) => await node.delete(digest, o),
        pin: async (digest, pinned, o) => { await node.pin(digest, pinned, o) },
        gc: async (o) => await node.gc(o),
        peers: () => node.peers(),
        stats: () => node.stats()
      }
    },
    transfer (client) {
      return {
        meta: client.meta.bind(client),
        exchange: client.exchange.bind(client),
        session (peer, digest, pieceSize) {
          const s = client.session(peer, digest, pieceSize)
          return tracedSession(s, peer.toString(), digest, () => running.get(digest)?.[0])
        }
      }
    }
  }

  function tracedSession (s: PieceSession, peer: string, digest: string, parent: () => Context | undefined): PieceSession {
    return {
      close: () => { s.close() },
      async get (index, options) {
        const span = tracer.startSpan(SPAN.piece, {
          kind: SpanKind.CLIENT,
          attributes: { [ATTR.digest]: digest, [ATTR.piece]: index, [ATTR.peer]: peer }
        }, parent() ?? context.active())
        try {
          const bytes = await s.get(index, options)
          span.setAttribute(ATTR.bytes, bytes.byteLength)
          span.end()
          return bytes
        } catch (err) {
          fail(span, err)
          throw err
        }
      }
    }
  }
}

/**
 * Origin spans under the span active now, if one is recording (an import
 * through the daemon's API: a download that is no fetch); else the origin as is.
 */
export function traceOriginInContext (origin: Origin): Origin {
  const ctx = context.active()
  if (trace.getSpan(ctx)?.isRecording() !== true) return origin
  return traceOrigin(trace.getTracer(TRACER_NAME), origin, ctx)
}

/** The same Origin the node would build from a URL (src/node.ts), so it can be wrapped before the node sees it. */
function toOrigin (o: NonNullable<FetchOptions['origin']>, headers: Record<string, string> | undefined): Origin {
  return typeof o === 'string' || o instanceof URL ? originFromUrl(o.toString(), { headers }) : o
}

function traceOrigin (tracer: ReturnType<typeof trace.getTracer>, origin: Origin, parent: Context): Origin {
  return {
    name: origin.name,
    async stat (options) {
      const span = tracer.startSpan(SPAN.originStat, { kind: SpanKind.CLIENT, attributes: { [ATTR.origin]: origin.name } }, parent)
      try {
        const info = await origin.stat(options)
        span.setAttribute(ATTR.size, info.size)
        span.end()
        return info
      } catch (err) {
        fail(span, err)
        throw err
      }
    },
    async * read (range, options) {
      const span = tracer.startSpan(SPAN.originRead, {
        kind: SpanKind.CLIENT,
        attributes: { [ATTR.origin]: origin.name, ...(range != null ? { [ATTR.rangeStart]: range.start, [ATTR.rangeEnd]: range.end } : {}) }
      }, parent)
      let bytes = 0
      let ended = false
      try {
        for await (const chunk of origin.read(range, options)) {
          bytes += chunk.byteLength
          yield chunk
        }
        span.setAttribute(ATTR.bytes, bytes)
        span.end()
        ended = true
      } catch (err) {
        span.setAttribute(ATTR.bytes, bytes)
        fail(span, err)
        ended = true
        throw err
      } finally {
        // The reader stopped early (the piece arrived elsewhere, the stream restarts): not an error.
        if (!ended) { span.setAttribute(ATTR.bytes, bytes); span.end() }
      }
    }
  }
}

function fail (span: Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err))
  span.recordException(e)
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message })
  span.end()
}
