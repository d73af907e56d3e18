import { randomBytes } from 'node:crypto'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpOrigin, originFromUrl, type HttpOriginInit } from '../../src/origin/index.js'
import { startOriginServer, type OriginServer, type OriginServerOptions } from '../fixtures/origin-server.js'
import { collect } from './conformance.js'

const data = randomBytes(512 * 1024 + 7)
const size = data.byteLength
let servers: OriginServer[] = []
const raw: Array<Server | ReturnType<typeof createHttpServer>> = []

async function rawHttp (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const srv = createHttpServer(handler)
  raw.push(srv)
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  return (srv.address() as AddressInfo).port
}

afterEach(async () => {
  await Promise.all(servers.map(async s => { await s.close() }))
  servers = []
  for (const s of raw.splice(0)) { if ('closeAllConnections' in s) s.closeAllConnections(); s.close() }
})

async function serve (opts: Partial<OriginServerOptions> = {}): Promise<OriginServer> {
  const s = await startOriginServer({ files: { '/blob': data }, ...opts })
  servers.push(s)
  return s
}

function origin (url: string, init: Partial<HttpOriginInit> = {}): ReturnType<typeof createHttpOrigin> {
  return createHttpOrigin({ url, backoffMs: 5, ...init })
}

describe('HTTP origin', () => {
  it('404: OriginError with status 404, "not found at origin", no retry', async () => {
    const s = await serve()
    let errors = 0
    const o = origin(`${s.url}/missing`, { onError: () => { errors++ } })
    await expect(o.stat()).rejects.toMatchObject({ name: 'OriginError', status: 404, retryable: false, message: expect.stringMatching(/not found at origin/) })
    expect(s.requests()).toBe(1)
    await expect(collect(o.read({ start: 0, end: 10 }))).rejects.toMatchObject({ name: 'OriginError', status: 404 })
    expect(s.requests()).toBe(2)
    expect(errors).toBe(2)
  })

  it('other 4xx are not retried; 429 is, after Retry-After', async () => {
    let hits = 0
    let limited = false
    const port = await rawHttp((req, res) => {
      hits++
      if (req.url === '/forbidden') { res.writeHead(403).end(); return }
      if (!limited) { limited = true; res.writeHead(429, { 'retry-after': '0' }).end(); return }
      res.writeHead(200, { 'content-length': '3', 'accept-ranges': 'bytes' }).end(req.method === 'HEAD' ? undefined : 'abc')
    })
    const forbidden = origin(`http://127.0.0.1:${port}/forbidden`)
    await expect(collect(forbidden.read({ start: 0, end: 2 }))).rejects.toMatchObject({ name: 'OriginError', status: 403, retryable: false })
    expect(hits).toBe(1)
    // A 403 to HEAD may come from a URL signed for GET only: stat asks once more with GET, then stops.
    await expect(forbidden.stat()).rejects.toMatchObject({ name: 'OriginError', status: 403 })
    expect(hits).toBe(3)
    expect(await origin(`http://127.0.0.1:${port}/ok`).stat()).toEqual({ size: 3, acceptsRanges: true })
    expect(hits).toBe(5)
  })

  it('times out when the body stalls after the headers, and gives the caller an error', async () => {
    const port = await rawHttp((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' })
      res.write(Buffer.alloc(10)) // then silence
    })
    const t0 = performance.now()
    await expect(collect(origin(`http://127.0.0.1:${port}/x`, { timeoutMs: 150, retries: 2 }).read(undefined)))
      .rejects.toMatchObject({ name: 'OriginError', message: expect.stringMatching(/no answer/) })
    expect(performance.now() - t0).toBeLessThan(3000)
  })

  it('503 twice then success: retried, each request and failure reported', async () => {
    const s = await serve({ failFirst: 2 })
    let requests = 0
    let errors = 0
    const o = origin(`${s.url}/blob`, { onRequest: () => { requests++ }, onError: () => { errors++ } })
    const info = await o.stat()
    expect(info).toMatchObject({ size, acceptsRanges: true })
    expect(s.requests()).toBe(3)
    expect(requests).toBe(3)
    expect(errors).toBe(2)
  })

  it('a persistently failing origin is given up after `retries` tries', async () => {
    const s = await serve()
    s.setDown(true)
    const o = origin(`${s.url}/blob`, { retries: 3 })
    await expect(collect(o.read({ start: 0, end: 100 }))).rejects.toMatchObject({ name: 'OriginError', status: 503, retryable: true })
    expect(s.requests()).toBe(3)
  })

  it('follows redirects, and stops a redirect loop', async () => {
    const s = await serve({ redirects: { '/old': '/blob', '/a': '/b', '/b': '/a' } })
    const o = origin(`${s.url}/old`)
    expect((await o.stat()).size).toBe(size)
    expect((await collect(o.read({ start: 10, end: 5000 }))).equals(data.subarray(10, 5000))).toBe(true)
    await expect(origin(`${s.url}/a`).stat()).rejects.toMatchObject({ name: 'OriginError', retryable: false })
  })

  it('an origin that ignores Range: stat says so, ranged reads still give the right bytes', async () => {
    const s = await serve({ acceptRanges: false })
    const o = origin(`${s.url}/blob`)
    expect(await o.stat()).toMatchObject({ size, acceptsRanges: false })
    const got = await collect(o.read({ start: 200_000, end: 200_100 }))
    expect(got.equals(data.subarray(200_000, 200_100))).toBe(true)
    // The skipped prefix crossed the wire: that is the cost of such origins.
    expect(s.bytesSent()).toBeGreaterThanOrEqual(200_100)
  })

  it('HEAD refused: stat falls back to a one-byte GET', async () => {
    const s = await serve({ noHead: true, headers: { 'docker-content-digest': 'sha256:' + 'ab'.repeat(32) } })
    const info = await origin(`${s.url}/blob`).stat()
    expect(info).toEqual({ size, acceptsRanges: true, digest: 'sha256:' + 'ab'.repeat(32) })
    expect(s.rangeRequests()).toEqual([{ path: '/blob', start: 0, end: 1 }])
  })

  it('a body cut short is resumed from the byte reached', async () => {
    const s = await serve({ cutFirst: 1, cutAfterBytes: 100_000 })
    const got = await collect(origin(`${s.url}/blob`).read({ start: 1000, end: 300_000 }))
    expect(got.equals(data.subarray(1000, 300_000))).toBe(true)
    const rs = s.rangeRequests()
    expect(rs[0]).toEqual({ path: '/blob', start: 1000, end: 300_000 })
    expect(rs[1]).toEqual({ path: '/blob', start: 101_000, end: 300_000 })
    // No byte paid twice.
    expect(s.bytesSent()).toBe(299_000)
  })

  it('a whole-blob read cut short resumes with an open range', async () => {
    const s = await serve({ cutFirst: 1, cutAfterBytes: 65_536 })
    const got = await collect(origin(`${s.url}/blob`).read(undefined))
    expect(got.equals(data)).toBe(true)
    expect(s.rangeRequests()).toEqual([{ path: '/blob', start: 65_536, end: size }])
  })

  it('a cut body with no tries left is an error, never a short read', async () => {
    const s = await serve({ cutFirst: 1, cutAfterBytes: 100_000 })
    await expect(collect(origin(`${s.url}/blob`, { retries: 1 }).read({ start: 0, end: size }))).rejects.toMatchObject({ name: 'OriginError' })
  })

  it('times out on a server that never answers', async () => {
    const silent = createServer(() => {}) // accepts, never says a word
    raw.push(silent)
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as AddressInfo).port
    const t0 = performance.now()
    const o = origin(`http://127.0.0.1:${port}/blob`, { timeoutMs: 150, retries: 2 })
    await expect(o.stat()).rejects.toMatchObject({ name: 'OriginError', message: expect.stringMatching(/no answer/) })
    await expect(collect(o.read({ start: 0, end: 10 }))).rejects.toMatchObject({ name: 'OriginError' })
    expect(performance.now() - t0).toBeLessThan(3000)
  })

  it('a refused connection is an OriginError after its tries', async () => {
    const s = await serve()
    const url = `${s.url}/blob`
    await s.close()
    servers = []
    await expect(origin(url, { retries: 2 }).stat()).rejects.toMatchObject({ name: 'OriginError', retryable: true })
  })

  it('passes request headers, turns userinfo into Basic auth, and keeps secrets out of its name', async () => {
    const s = await serve()
    const withAuth = origin(`${s.url}/blob?sig=secret`, { headers: { Authorization: 'Bearer tok', 'X-Extra': '1' } })
    await withAuth.stat()
    expect(withAuth.name).toBe(`${s.url}/blob`)
    const h = s.requestLog()[0].headers
    expect(h.authorization).toBe('Bearer tok')
    expect(h['x-extra']).toBe('1')
    const basic = origin(`http://user:p%40ss@127.0.0.1:${s.port}/blob`)
    expect(basic.name).toBe(`${s.url}/blob`)
    await basic.stat()
    expect(s.requestLog()[1].headers.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`)
  })

  it('paces every chunk through the rate limiter', async () => {
    const s = await serve()
    let taken = 0
    const o = origin(`${s.url}/blob`, { rateLimiter: { rate: 1e9, take: async (n) => { taken += n } } })
    const got = await collect(o.read({ start: 5, end: 400_005 }))
    expect(got.byteLength).toBe(400_000)
    expect(taken).toBe(400_000)
  })

  it('bytesSent counts exactly the body bytes', async () => {
    const s = await serve()
    const o = origin(`${s.url}/blob`)
    await o.stat()
    expect(s.bytesSent()).toBe(0)
    await collect(o.read({ start: 0, end: 1000 }))
    await collect(o.read(undefined))
    expect(s.bytesSent()).toBe(1000 + size)
  })

  it('the fixture caps its bandwidth and can serve wrong bytes', async () => {
    const slow = await serve({ rateBytesPerSec: 1024 * 1024 })
    const t0 = performance.now()
    const got = await collect(origin(`${slow.url}/blob`).read(undefined))
    // 256 KiB of burst, then ~1 MiB/s for the rest.
    expect(performance.now() - t0).toBeGreaterThan(150)
    expect(got.equals(data)).toBe(true)
    const liar = await serve({ corrupt: true })
    const bad = await collect(origin(`${liar.url}/blob`).read({ start: 0, end: 1000 }))
    expect(bad.byteLength).toBe(1000)
    expect(bad.equals(data.subarray(0, 1000))).toBe(false)
  })

  it('originFromUrl picks by scheme and refuses others', () => {
    expect(originFromUrl('http://127.0.0.1:1/x').name).toBe('http://127.0.0.1:1/x')
    expect(() => originFromUrl('ftp://example.com/x')).toThrow(expect.objectContaining({ name: 'InvalidRequestError' }))
    expect(() => originFromUrl('not a url')).toThrow(expect.objectContaining({ name: 'InvalidRequestError' }))
  })
})
