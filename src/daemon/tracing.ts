/**
 * The daemon's side of tracing (docs/tracing.md): the SDK is started only
 * when an OTLP endpoint is configured, and API request spans are named by
 * route, not by raw path (a digest in a span name would make every name unique).
 */
import type { IncomingMessage } from 'node:http'
import type { Logger } from '../types.js'
import { createFetchTracing, type FetchTracing } from '../tracing/fetch.js'
import { version } from './version.js'

export interface DaemonTracing {
  fetches: FetchTracing
  shutdown(): Promise<void>
}

export async function startDaemonTracing (endpoint: string | undefined, logger: Logger): Promise<DaemonTracing | undefined> {
  if (endpoint == null) return undefined
  const { startTracing } = await import('../tracing/sdk.js')
  const t = await startTracing({ endpoint, serviceName: 'starling-daemon', serviceVersion: version(), logger })
  return { fetches: createFetchTracing(), shutdown: async () => { await t.shutdown() } }
}

const BLOB_ROUTE = /^\/api\/v1\/blobs\/[^/]+(\/stat|\/pin)?$/

/** `/api/v1/blobs/{digest}` for any blob path; other API paths are few and fixed. */
export function apiRoute (req: IncomingMessage): string {
  const path = (req.url ?? '/').split('?')[0]
  const m = BLOB_ROUTE.exec(path)
  if (m != null) return `/api/v1/blobs/{digest}${m[1] ?? ''}`
  return path.startsWith('/api/') || ['/metrics', '/healthz', '/readyz'].includes(path) ? path : '/{unknown}'
}
