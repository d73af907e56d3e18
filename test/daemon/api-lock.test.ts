/**
 * The local API locked (issue 9, docs/http-api.md "Authentication"), against
 * real daemon processes on loopback: a token from the data folder on every
 * request, JSON bodies only, Host and Origin checked, no file:// unless the
 * config allows it — and the CLI still works with no flags beyond --api.
 */
import { createHash, randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDir, runCli, startDaemonProcess, tempDir, type DaemonProcess } from '../cli/helpers.js'

let dir: string
let d: DaemonProcess
let token: string
let secretFile: string
const daemons: DaemonProcess[] = []

interface RawResponse { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** node:http, not fetch: fetch will not send a Host header of our choosing. */
async function raw (api: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawResponse> {
  const [host, port] = [api.slice(0, api.lastIndexOf(':')), Number(api.slice(api.lastIndexOf(':') + 1))]
  return await new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, headers }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

function auth (t = token): Record<string, string> {
  return { authorization: `Bearer ${t}` }
}

beforeAll(async () => {
  dir = await tempDir('starling-lock-')
  secretFile = join(dir, 'secret.txt')
  await writeFile(secretFile, 'not for web pages\n', { mode: 0o600 })
  d = await startDaemonProcess(join(dir, 'd'))
  daemons.push(d)
  token = (await readFile(join(d.dataDir, 'api-token'), 'utf8')).trim()
})

afterAll(async () => {
  await Promise.all(daemons.map(async x => await x.stop()))
  await removeDir(dir)
})

describe('API token', () => {
  it('is created at first start in the data folder, mode 0600', async () => {
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    expect((await stat(join(d.dataDir, 'api-token'))).mode & 0o777).toBe(0o600)
  })

  it('no token → 401 with a Bearer challenge; wrong token → 401; right token → 200', async () => {
    const none = await raw(d.api, 'GET', '/api/v1/info')
    expect(none.status).toBe(401)
    expect(none.headers['www-authenticate']).toMatch(/^Bearer /)
    expect(JSON.parse(none.body).error.name).toBe('UnauthorizedError')
    const wrong = await raw(d.api, 'GET', '/api/v1/blobs', auth('0'.repeat(64)))
    expect(wrong.status).toBe(401)
    expect(JSON.parse(wrong.body).error.message).toMatch(/wrong API token/)
    expect((await raw(d.api, 'GET', '/api/v1/blobs', { authorization: 'Basic abc' })).status).toBe(401)
    expect((await raw(d.api, 'GET', '/api/v1/info', auth())).status).toBe(200)
  })

  it('/healthz, /readyz and /metrics answer without a token and carry no blob data', async () => {
    expect((await raw(d.api, 'GET', '/healthz')).status).toBe(200)
    expect([200, 503]).toContain((await raw(d.api, 'GET', '/readyz')).status)
    const m = await raw(d.api, 'GET', '/metrics')
    expect(m.status).toBe(200)
    expect(m.body).toContain('starling_cache_bytes')
    expect(m.body).not.toMatch(/sha256:/)
  })
})

describe('requests a web page could send', () => {
  it('a text/plain body → 415, even with the token', async () => {
    const imp = await raw(d.api, 'POST', '/api/v1/import', { ...auth(), 'content-type': 'text/plain' }, JSON.stringify({ url: 'http://127.0.0.1:1/x' }))
    expect(imp.status).toBe(415)
    expect(JSON.parse(imp.body).error.name).toBe('UnsupportedMediaTypeError')
    const add = await raw(d.api, 'POST', '/api/v1/blobs', { ...auth(), 'content-type': 'text/plain' }, 'hello')
    expect(add.status).toBe(415)
    const form = await raw(d.api, 'POST', `/api/v1/blobs/sha256:${'a'.repeat(64)}/pin`, { ...auth(), 'content-type': 'application/x-www-form-urlencoded' }, 'pinned=1')
    expect(form.status).toBe(415)
  })

  it('a foreign Host → 403 (DNS rebinding), on every path; loopback names pass', async () => {
    const port = d.api.slice(d.api.lastIndexOf(':') + 1)
    for (const path of ['/api/v1/info', '/metrics', '/healthz']) {
      const r = await raw(d.api, 'GET', path, { ...auth(), host: `evil.example:${port}` })
      expect(r.status).toBe(403)
      expect(JSON.parse(r.body).error.name).toBe('ForbiddenError')
    }
    expect((await raw(d.api, 'GET', '/api/v1/info', { ...auth(), host: `localhost:${port}` })).status).toBe(200)
    expect((await raw(d.api, 'GET', '/api/v1/info', { ...auth(), host: `127.0.0.1:${port}` })).status).toBe(200)
  })

  it('a foreign Origin → 403; the API\'s own origin passes', async () => {
    const post = await raw(d.api, 'POST', '/api/v1/import', { ...auth(), origin: 'https://evil.example', 'content-type': 'application/json' }, '{}')
    expect(post.status).toBe(403)
    expect(JSON.parse(post.body).error.message).toMatch(/cross-origin/)
    expect((await raw(d.api, 'GET', '/api/v1/info', { ...auth(), origin: 'null' })).status).toBe(403)
    expect((await raw(d.api, 'GET', '/api/v1/info', { ...auth(), origin: `http://${d.api}` })).status).toBe(200)
  })

  it('the issue\'s reproduction: text/plain, foreign Host and Origin, no token, file:// → refused, nothing imported', async () => {
    const port = d.api.slice(d.api.lastIndexOf(':') + 1)
    const r = await raw(d.api, 'POST', '/api/v1/import', { 'content-type': 'text/plain', host: `evil.example:${port}`, origin: 'http://evil.example' },
      JSON.stringify({ url: pathToFileURL(secretFile).href }))
    expect(r.status).toBe(403)
    const blobs = JSON.parse((await raw(d.api, 'GET', '/api/v1/blobs', auth())).body).blobs
    expect(blobs).toEqual([])
  })
})

describe('file:// and paths', () => {
  it('file:// import, a file:// origin and add by path are refused by default (403, clear message)', async () => {
    const json = { ...auth(), 'content-type': 'application/json' }
    const imp = await raw(d.api, 'POST', '/api/v1/import', json, JSON.stringify({ url: pathToFileURL(secretFile).href }))
    expect(imp.status).toBe(403)
    expect(JSON.parse(imp.body).error.message).toMatch(/allowFileImport/)
    const digest = `sha256:${createHash('sha256').update('not for web pages\n').digest('hex')}`
    const get = await raw(d.api, 'GET', `/api/v1/blobs/${digest}?origin=${encodeURIComponent(pathToFileURL(secretFile).href)}`, auth())
    expect(get.status).toBe(403)
    const byPath = await raw(d.api, 'POST', '/api/v1/blobs', json, JSON.stringify({ path: secretFile }))
    expect(byPath.status).toBe(403)
    expect(JSON.parse((await raw(d.api, 'GET', '/api/v1/blobs', auth())).body).blobs).toEqual([])
  })

  it('a daemon started with --allow-file-import reads file:// URLs', async () => {
    const e = await startDaemonProcess(join(dir, 'e'), ['--allow-file-import'])
    daemons.push(e)
    const t = (await readFile(join(e.dataDir, 'api-token'), 'utf8')).trim()
    const r = await raw(e.api, 'POST', '/api/v1/import', { ...auth(t), 'content-type': 'application/json' }, JSON.stringify({ url: pathToFileURL(secretFile).href }))
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body).size).toBe(18)
    await e.stop()
  })
})

describe('the CLI needs no new flag', () => {
  it('add, stat, ls, get (by digest and of a file:// URL), info: the token is found by itself', async () => {
    const file = join(dir, 'blob.bin')
    const bytes = randomBytes(300_000)
    await writeFile(file, bytes)
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    const add = await runCli(['--api', d.api, 'add', file])
    expect(add.stderr).toBe('')
    expect(add.stdout.trim()).toBe(digest)
    expect(JSON.parse((await runCli(['--api', d.api, '--json', 'stat', digest])).stdout).size).toBe(bytes.byteLength)
    expect((await runCli(['--api', d.api, 'ls'])).stdout).toContain(digest)
    expect(JSON.parse((await runCli(['--api', d.api, '--json', 'info'])).stdout).peerId).toBe(d.peerId)
    const out = join(dir, 'out.bin')
    const get = await runCli(['--api', d.api, 'get', digest, '-o', out])
    expect(get.stderr).toBe('')
    expect((await readFile(out)).equals(bytes)).toBe(true)
    // file:// through the daemon: the CLI streams the file, the daemon reads nothing by itself.
    const other = join(dir, 'other.bin')
    const otherBytes = randomBytes(70_000)
    await writeFile(other, otherBytes)
    const out2 = join(dir, 'out2.bin')
    const viaFile = await runCli(['--api', d.api, 'get', pathToFileURL(other).href, '-o', out2])
    expect(viaFile.stderr).toBe('')
    expect(viaFile.code).toBe(0)
    expect((await readFile(out2)).equals(otherBytes)).toBe(true)
  })

  it('add --by-path says why it is refused; a wrong STARLING_API_TOKEN says where the token is', async () => {
    const byPath = await runCli(['--api', d.api, 'add', '--by-path', secretFile])
    expect(byPath.code).toBe(1)
    expect(byPath.stderr).toMatch(/^starling: adding a file by path is refused: .*allowFileImport/)
    const wrong = await runCli(['--api', d.api, 'ls'], { env: { STARLING_API_TOKEN: 'f'.repeat(64) } })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/wrong API token.*STARLING_DATA_DIR/)
    const right = await runCli(['--api', d.api, 'ls'], { env: { STARLING_API_TOKEN: token } })
    expect(right.code).toBe(0)
  })

  it('a restarted daemon keeps its token', async () => {
    expect(await d.stop()).toBe(0)
    d = await startDaemonProcess(d.dataDir)
    daemons.push(d)
    expect((await readFile(join(d.dataDir, 'api-token'), 'utf8')).trim()).toBe(token)
    expect((await runCli(['--api', d.api, 'ls'])).code).toBe(0)
  })
})
