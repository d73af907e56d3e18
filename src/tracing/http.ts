/**
 * A SERVER span around each request of a node:http handler (the daemon's
 * API, the registry mirror), continuing the caller's trace when it sends a
 * W3C `traceparent`. Uses only @opentelemetry/api: with tracing off every
 * call is the API's no-op, and nothing is extracted or recorded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { TRACER_NAME } from './names.js'

/** A node:http handler; it may return a promise (ignored here, as node:http does). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => unknown

/**
 * `route` names the span from the request (low cardinality: a template
 * such as `/v2/{name}/blobs/{digest}`, never the raw path with its digest).
 */
export function traceRequests (handler: HttpHandler, route: (req: IncomingMessage) => string): HttpHandler {
  const tracer = trace.getTracer(TRACER_NAME)
  return (req, res) => {
    const parent = propagation.extract(context.active(), req.headers)
    const method = req.method ?? 'GET'
    const span = tracer.startSpan(`${method} ${route(req)}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': method, 'url.path': (req.url ?? '/').split('?')[0] }
    }, parent)
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode)
      if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR, message: res.writableFinished ? `status ${res.statusCode}` : 'response cut' })
      span.end()
    })
    return context.with(trace.setSpan(parent, span), () => handler(req, res))
  }
}
