import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StarlingNodeOptions } from '../../src/api.js'
import { loadConfig } from '../../src/daemon/config.js'
import { startDaemon, type Daemon } from '../../src/daemon/daemon.js'
import { checkReachable } from '../../src/daemon/reachable.js'
import { main } from '../../src/cli/main.js'
import { createFakeNode, fakePieceMapCid, type FakeNode } from './fake-node.js'

const silent = { debug () {}, info () {}, warn () {}, error () {} }
let dir: string
let daemon: Daemon
let fake: FakeNode
let origin: Server
let originUrl: string
const blob = randomBytes(3 * 1024 * 1024 + 17)
const blobDigest = `sha256:${createHash('sha256').update(blob).digest('hex')}`
const seenHeaders: string[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'starling-api-'))
  origin = createServer((req, res) => {
    seenHeaders.push(String(req.headers['x-token'] ?? ''))
    if (req.url !== '/blob.bin') { res.writeHead(404); res.end(); return }
    res.writeHead(200, { 'content-length': blob.byteLength })
    res.end(blob)
  })
  await new Promise<void>(resolve => origin.listen(0, '127.0.0.1', resolve))
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/blob.bin`
  const config = await loadConfig({ env: {}, flags: { dataDir: dir, api: '127.0.0.1:0', cacheSize: '4MiB', gcInterval: '0' } })
  daemon = await startDaemon(config, { logger: silent, createNode: async (o: StarlingNodeOptions) => (fake = createFakeNode(o)) })
})

afterAll(async () => {
  await daemon?.stop()
  origin?.close()
  await rm(dir, { recursive: true, force: true })
})

interface JsonResponse extends Omit<Response, 'json'> { json: () => Promise<any> }

async function api (path: string, init?: RequestInit): Promise<JsonResponse> {
  // The API wants the token of <data dir>/api-token (docs/http-api.md, "Authentication").
  const headers = new Headers(init?.headers)
  headers.set('authorization', `Bearer ${(await readFile(daemon.tokenFile, 'utf8')).trim()}`)
  return await fetch(daemon.apiUrl + path, { ...init, headers })
}

async function cli (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const out = new PassThrough()
  const err = new PassThrough()
  let stdout = ''
  let stderr = ''
  out.on('data', d => { stdout += String(d) })
  err.on('data', d => { stderr += String(d) })
  const code = await main(['node', 'starling', '--api', daemon.apiUrl.replace('http://', ''), ...args],
    { stdout: out as unknown as NodeJS.WriteStream, stderr: err as unknown as NodeJS.WriteStream, env: {} })
  return { code, stdout, stderr }
}

describe('daemon HTTP API (fake node)', () => {
  it('passes config to the node and starts it', () => {
    expect(fake.started).toBe(true)
    expect(fake.options.cacheSize).toBe(4 * 1024 * 1024)
    expect(fake.options.dataDir).toBe(dir)
  })

  it('serves info, healthz and readyz (alone by configuration)', async () => {
    const info = await (await api('/api/v1/info')).json()
    expect(info.peerId).toBe(fake.peerId)
    expect(info.addresses[0]).toContain('/p2p/')
    expect(info.api).toBe(daemon.apiUrl)
    expect(info.cache.quota).toBe(4 * 1024 * 1024)
    expect((await api('/healthz')).status).toBe(200)
    const ready = await api('/readyz')
    expect(ready.status).toBe(200)
    expect((await ready.json()).alone).toBe(true)
  })

  it('streams a blob from the origin with passthrough headers and publishes progress events', async () => {
    const sub = await api(`/api/v1/events?digest=${blobDigest}`)
    const events: string[] = []
    const reading = (async () => {
      const dec = new TextDecoder()
      for await (const c of sub.body as unknown as AsyncIterable<Uint8Array>) {
        events.push(dec.decode(c))
        if (events.join('').includes('event: done')) return
      }
    })()
    const res = await api(`/api/v1/blobs/${blobDigest}?origin=${encodeURIComponent(originUrl)}`, { headers: { 'X-Starling-Header-X-Token': 'secret' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(blob.byteLength))
    const got = Buffer.from(await res.arrayBuffer())
    expect(got.equals(blob)).toBe(true)
    expect(seenHeaders).toContain('secret')
    await reading
    const text = events.join('')
    expect(text).toContain('event: start')
    expect((text.match(/event: piece/g) ?? []).length).toBe(4)
    expect(text).toContain('"source":"origin"')
  })

  it('maps errors to statuses with a JSON body', async () => {
    const bad = await api('/api/v1/blobs/sha256:nothex')
    expect(bad.status).toBe(400)
    expect((await bad.json()).error.name).toBe('InvalidDigestError')
    const missing = await api(`/api/v1/blobs/sha256:${'0'.repeat(64)}`)
    expect(missing.status).toBe(404)
    expect((await missing.json()).error.name).toBe('NoSourceError')
    expect((await api('/api/v1/nope')).status).toBe(404)
  })

  it('adds an upload, lists, stats, deletes', async () => {
    const bytes = randomBytes(1000)
    const d = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    const add = await (await api('/api/v1/blobs', { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } })).json()
    expect(add).toEqual({ digest: d, size: 1000, pieceMap: await fakePieceMapCid(bytes) })
    const { blobs } = await (await api('/api/v1/blobs')).json()
    expect(blobs.map((b: any) => b.digest)).toContain(d)
    expect((await (await api(`/api/v1/blobs/${d}/stat`)).json()).size).toBe(1000)
    expect((await api(`/api/v1/blobs/${d}`, { method: 'HEAD' })).headers.get('content-length')).toBe('1000')
    expect(await (await api(`/api/v1/blobs/${d}`, { method: 'DELETE' })).json()).toEqual({ digest: d, deleted: true })
    expect((await api(`/api/v1/blobs/${d}/stat`)).status).toBe(404)
    const wrong = await api(`/api/v1/blobs?digest=sha256:${'1'.repeat(64)}`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } })
    expect(wrong.status).toBe(502)
    expect((await wrong.json()).error.name).toBe('DigestMismatchError')
  })

  it('serves Prometheus text that follows node.stats()', async () => {
    const res = await api('/metrics')
    expect(res.headers.get('content-type')).toMatch(/text\/plain/)
    const text = await res.text()
    expect(text).toMatch(/^starling_bytes_received_total\{source="origin"\} (\d+)$/m)
    const origin = Number(/^starling_bytes_received_total\{source="origin"\} (\d+)$/m.exec(text)![1])
    expect(origin).toBe(fake.stats().bytesIn.origin)
    expect(origin).toBeGreaterThanOrEqual(blob.byteLength)
    expect(text).toMatch(/^starling_cache_quota_bytes 4194304$/m)
    // A second scrape must not double-count (counters are synced by delta).
    const again = await (await api('/metrics')).text()
    expect(Number(/^starling_bytes_received_total\{source="origin"\} (\d+)$/m.exec(again)![1])).toBe(origin)
  })

  it('runs gc on request', async () => {
    await api('/api/v1/blobs', { method: 'POST', body: randomBytes(2 * 1024 * 1024), headers: { 'content-type': 'application/octet-stream' } })
    const r = await (await api('/api/v1/gc', { method: 'POST' })).json()
    expect(r.evicted).toContain(blobDigest) // the oldest, and over the 4 MiB quota together
    expect(fake.stats().cache.bytes).toBeLessThanOrEqual(4 * 1024 * 1024)
  })
})

describe('CLI against the daemon (fake node)', () => {
  it('get writes the file atomically, verifies, and is quiet when not a terminal', async () => {
    const out = join(dir, 'out.bin')
    const r = await cli('get', originUrl, '--digest', blobDigest, '-o', out)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('')
    expect((await readFile(out)).equals(blob)).toBe(true)
    expect((await readdir(dir)).filter(f => f.includes('.tmp'))).toEqual([])
  })

  it('get with a URL and no digest imports through the daemon', async () => {
    const out = join(dir, 'out2.bin')
    const r = await cli('--json', 'get', originUrl, '-o', out)
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).digest).toBe(blobDigest)
    expect((await readFile(out)).equals(blob)).toBe(true)
  })

  it('get with a wrong --digest fails with one line and leaves no file', async () => {
    const out = join(dir, 'never.bin')
    const r = await cli('get', originUrl, '--digest', `sha256:${'2'.repeat(64)}`, '-o', out)
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^starling: /)
    await expect(readFile(out)).rejects.toThrow(/ENOENT/)
    expect((await readdir(dir)).filter(f => f.includes('.tmp'))).toEqual([])
  })

  it('add, stat, ls, rm, info, gc, peers, version in text and --json', async () => {
    const f = join(dir, 'small.txt')
    await writeFile(f, 'hello starling\n')
    const add = await cli('add', f)
    expect(add.code).toBe(0)
    const d = add.stdout.trim()
    expect(d).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect((await cli('--json', 'stat', d)).stdout).toContain('"size": 15')
    expect((await cli('ls')).stdout).toContain(d)
    expect(JSON.parse((await cli('--json', 'info')).stdout).peerId).toBe(fake.peerId)
    expect((await cli('peers')).stdout).toContain('no connected peers')
    expect(JSON.parse((await cli('--json', 'gc')).stdout)).toHaveProperty('evicted')
    expect((await cli('version')).stdout).toMatch(/^starling \d+\.\d+\.\d+/)
    expect((await cli('rm', d)).code).toBe(0)
    const again = await cli('rm', d)
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/not in the store/)
    const bad = await cli('stat', 'sha256:zz')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^starling: invalid digest/)
  })

  it('fails with one line when no daemon answers', async () => {
    const out = new PassThrough()
    let stderr = ''
    const err = new PassThrough()
    err.on('data', d => { stderr += String(d) })
    const closed = createServer()
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise(resolve => closed.close(resolve))
    const code = await main(['node', 'starling', 'info'], { stdout: out as any, stderr: err as any, env: { STARLING_API: `127.0.0.1:${port}` } })
    expect(code).toBe(1)
    expect(stderr).toMatch(new RegExp(`^starling: cannot reach the starling daemon at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`))
    expect(stderr.trim().split('\n')).toHaveLength(1)
  })
})

describe('bootstrap reachability', () => {
  it('reports a closed port and accepts an open one', async () => {
    const port = (origin.address() as AddressInfo).port
    expect(await checkReachable(`/ip4/127.0.0.1/tcp/${port}/p2p/x`, 2000)).toBeUndefined()
    expect(await checkReachable('/ip4/127.0.0.1/tcp/1/p2p/x', 2000)).toBe('ECONNREFUSED')
  })

  it('stops start-up naming the address', async () => {
    const config = await loadConfig({ env: {}, flags: { dataDir: dir, api: '127.0.0.1:0', bootstrap: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'] } })
    await expect(startDaemon(config, { logger: silent, createNode: async o => createFakeNode(o) }))
      .rejects.toThrow(/^bootstrap: cannot reach \/ip4\/127\.0\.0\.1\/tcp\/1\/p2p\/\S+ \(ECONNREFUSED\)/)
  })
})
