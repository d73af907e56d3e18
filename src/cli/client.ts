/**
 * The CLI side of the daemon's HTTP API (docs/http-api.md). Every failure
 * becomes a CliError with one readable line.
 */
import { context, propagation } from '@opentelemetry/api'
import { findApiToken } from '../daemon/api-token.js'
import { DEFAULT_API } from '../daemon/defaults.js'
import { CliError, type CliContext, type GlobalOptions } from './context.js'

export interface ApiClient {
  readonly base: string
  json<T = any>(method: string, path: string, body?: unknown, init?: { signal?: AbortSignal }): Promise<T>
  /** Raw request; non-2xx answers are turned into CliError. */
  request(method: string, path: string, init?: RequestInit): Promise<Response>
}

/** `--api` beats STARLING_API beats the default; accepts `host:port` or a URL. */
export function apiBase (g: GlobalOptions, ctx: CliContext): string {
  const raw = g.api ?? ctx.env.STARLING_API ?? DEFAULT_API
  const base = /^https?:\/\//.test(raw) ? raw : `http://${raw}`
  return base.replace(/\/+$/, '')
}

export function createClient (g: GlobalOptions, ctx: CliContext): ApiClient {
  const base = apiBase(g, ctx)
  // Looked up once, on the first request (docs/http-api.md, "Authentication").
  let token: Promise<string | undefined> | undefined
  async function request (method: string, path: string, init: RequestInit = {}): Promise<Response> {
    token ??= findApiToken(base, ctx.env).catch((err: Error) => { throw new CliError(err.message) })
    const t = await token
    const headers = new Headers(init.headers)
    if (t != null) headers.set('authorization', `Bearer ${t}`)
    // W3C traceparent when the CLI traces (src/cli/tracing.ts); the API's no-op propagator adds nothing otherwise.
    propagation.inject(context.active(), headers, { set: (h, k, v) => { h.set(k, v) } })
    let res: Response
    try {
      res = await fetch(base + path, { ...init, headers, method })
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err
      const cause = (err as { cause?: { code?: string, message?: string } }).cause
      throw new CliError(`cannot reach the starling daemon at ${base} (${cause?.code ?? cause?.message ?? (err as Error).message}): is \`starling daemon\` running? (set --api or STARLING_API)`)
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '')
      let msg = `${res.status} ${res.statusText}`
      try {
        const e = JSON.parse(text) as { error?: { name?: string, message?: string } }
        if (e.error?.message != null) msg = e.error.message
      } catch {}
      if (res.status === 401) msg += `: ${t == null ? 'no API token found' : 'the token found is not this daemon\'s'} (set STARLING_API_TOKEN, or STARLING_DATA_DIR to the daemon's data folder)`
      throw new CliError(msg)
    }
    return res
  }
  return {
    base,
    request,
    async json<T> (method: string, path: string, body?: unknown, init: { signal?: AbortSignal } = {}): Promise<T> {
      const res = await request(method, path, {
        signal: init.signal,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
      return await res.json() as T
    }
  }
}
