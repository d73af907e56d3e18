/**
 * Where the mirror's registry credentials may go (issue #9): to the token
 * realm only on the registry's own host (or hosts named for it, over HTTPS),
 * never over plain HTTP to another host, and no Authorization on a redirect
 * that leaves the origin. Real HTTP servers on loopback: 127.0.0.1 is "the
 * registry's host", 127.0.0.2 (also loopback on Linux) is "another host".
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createOciOrigin, fetchManifest, KNOWN_TOKEN_HOSTS, mayReceiveCredentials, TokenCache } from '../../src/origin/oci.js'

const CREDS = { username: 'alice', password: 'alice-pw' }
const BASIC = `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`
const DIGEST = `sha256:${'a'.repeat(64)}`

interface Recorder { url: string, seen: Array<{ path: string, headers: IncomingHttpHeaders }>, server: Server }

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise(resolve => s.close(resolve))
  }
})

async function serve (host: string, handle: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<Recorder> {
  const seen: Recorder['seen'] = []
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers })
    handle(req, res)
  })
  await new Promise<void>(resolve => server.listen(0, host, resolve))
  servers.push(server)
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, seen, server }
}

/** A token server that hands out `good` to anyone. */
async function tokenServer (host: string): Promise<Recorder> {
  return await serve(host, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ token: 'good', expires_in: 300 }))
  })
}

/** A registry that wants `Bearer good` and sends its clients to `realm`. */
async function bearerRegistry (realm: () => string): Promise<Recorder> {
  return await serve('127.0.0.1', (req, res) => {
    if (req.headers.authorization !== 'Bearer good') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="svc"` })
      res.end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': 2 })
    res.end(req.method === 'HEAD' ? undefined : '{}')
  })
}

describe('which token realms get the credentials', () => {
  it('the rule, host by host', () => {
    const https = new URL('https://registry.example.com')
    const http = new URL('http://10.0.0.5:5000')
    expect(mayReceiveCredentials(https, new URL('https://registry.example.com/token'))).toBe(true)
    expect(mayReceiveCredentials(https, new URL('https://registry.example.com:8443/token'))).toBe(true)
    // Down from HTTPS to plain HTTP, even on the same host: no.
    expect(mayReceiveCredentials(https, new URL('http://registry.example.com/token'))).toBe(false)
    expect(mayReceiveCredentials(https, new URL('https://auth.example.net/token'))).toBe(false)
    expect(mayReceiveCredentials(https, new URL('https://auth.example.net/token'), ['auth.example.net'])).toBe(true)
    expect(mayReceiveCredentials(https, new URL('https://AUTH.example.net/token'), ['Auth.Example.NET'])).toBe(true)
    // A plain-HTTP registry may use a token server beside it, but never one on another host, named or not.
    expect(mayReceiveCredentials(http, new URL('http://10.0.0.5:5001/token'))).toBe(true)
    expect(mayReceiveCredentials(http, new URL('http://10.0.0.6/token'), ['10.0.0.6'])).toBe(false)
    expect(mayReceiveCredentials(http, new URL('https://10.0.0.6/token'), ['10.0.0.6'])).toBe(true)
    for (const odd of ['ftp://registry.example.com/t', 'file:///etc/passwd', 'data:,x', 'javascript:alert(1)']) {
      expect(mayReceiveCredentials(https, new URL(odd))).toBe(false)
    }
    // Docker Hub's token server is built in.
    expect(KNOWN_TOKEN_HOSTS['registry-1.docker.io']).toContain('auth.docker.io')
    expect(mayReceiveCredentials(new URL('https://registry-1.docker.io'), new URL('https://auth.docker.io/token'))).toBe(true)
    expect(mayReceiveCredentials(new URL('https://registry-1.docker.io'), new URL('http://auth.docker.io/token'))).toBe(false)
  })

  it('a realm on the registry\'s own host gets them', async () => {
    const tokens = await tokenServer('127.0.0.1')
    const reg = await bearerRegistry(() => `${tokens.url}/token`)
    const r = await fetchManifest({ registry: reg.url, repository: 'a/b', reference: 'v1', credentials: CREDS, tokenCache: new TokenCache() })
    expect(r.status).toBe(200)
    expect(tokens.seen).toHaveLength(1)
    expect(tokens.seen[0].headers.authorization).toBe(BASIC)
  })

  it('a plain-HTTP realm on another host is asked anonymously, even when named for the registry', async () => {
    const tokens = await tokenServer('127.0.0.2')
    const reg = await bearerRegistry(() => `${tokens.url}/token`)
    for (const tokenHosts of [undefined, ['127.0.0.2']]) {
      const r = await fetchManifest({ registry: reg.url, repository: 'a/b', reference: 'v1', credentials: { ...CREDS, tokenHosts }, tokenCache: new TokenCache() })
      // The anonymous token is enough here; what matters is what the token server saw.
      expect(r.status).toBe(200)
    }
    expect(tokens.seen).toHaveLength(2)
    for (const s of tokens.seen) expect(s.headers.authorization).toBeUndefined()
  })

  it('a realm that is not http(s) is not asked at all: a typed refusal', async () => {
    for (const realm of ['file:///etc/passwd', 'ftp://127.0.0.1/token', 'not a url']) {
      const reg = await bearerRegistry(() => realm)
      await expect(fetchManifest({ registry: reg.url, repository: 'a/b', reference: 'v1', credentials: CREDS, tokenCache: new TokenCache() }))
        .rejects.toMatchObject({ name: 'OriginError', status: 401, retryable: false })
    }
  })

  it('a token server that redirects to another host loses the credentials on the way', async () => {
    const far = await tokenServer('127.0.0.2')
    const near = await serve('127.0.0.1', (req, res) => { res.writeHead(302, { location: `${far.url}${req.url ?? ''}` }); res.end() })
    const reg = await bearerRegistry(() => `${near.url}/token`)
    const r = await fetchManifest({ registry: reg.url, repository: 'a/b', reference: 'v1', credentials: CREDS, tokenCache: new TokenCache() })
    expect(r.status).toBe(200)
    expect(near.seen[0].headers.authorization).toBe(BASIC)
    expect(far.seen).toHaveLength(1)
    expect(far.seen[0].headers.authorization).toBeUndefined()
  })
})

describe('redirects and per-request credentials', () => {
  /** A basic-auth registry whose manifests and blobs live at `target` (302). */
  async function redirectingRegistry (target: () => string): Promise<Recorder> {
    return await serve('127.0.0.1', (req, res) => {
      if (req.headers.authorization !== BASIC) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' })
        res.end()
        return
      }
      res.writeHead(302, { location: `${target()}${req.url ?? ''}` })
      res.end()
    })
  }

  async function storage (host: string, body = '{}'): Promise<Recorder> {
    return await serve(host, (req, res) => {
      const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''))
      const bytes = Buffer.from(body)
      if (range != null) {
        const slice = bytes.subarray(Number(range[1]), Number(range[2]) + 1)
        res.writeHead(206, { 'content-length': slice.byteLength, 'content-range': `bytes ${range[1]}-${Number(range[1]) + slice.byteLength - 1}/${bytes.byteLength}`, 'accept-ranges': 'bytes' })
        res.end(req.method === 'HEAD' ? undefined : slice)
        return
      }
      res.writeHead(200, { 'content-length': bytes.byteLength, 'accept-ranges': 'bytes' })
      res.end(req.method === 'HEAD' ? undefined : bytes)
    })
  }

  it('our credentials: a manifest redirected to another origin is fetched without them', async () => {
    const store = await storage('127.0.0.2')
    const reg = await redirectingRegistry(() => store.url)
    const r = await fetchManifest({ registry: reg.url, repository: 'a/b', reference: 'v1', credentials: CREDS, tokenCache: new TokenCache() })
    expect(r.status).toBe(200)
    expect(reg.seen.some(s => s.headers.authorization === BASIC)).toBe(true)
    expect(store.seen.length).toBeGreaterThan(0)
    for (const s of store.seen) expect(s.headers.authorization).toBeUndefined()
  })

  it('the caller\'s own Authorization: dropped when a redirect changes only the port', async () => {
    const store = await storage('127.0.0.1')
    const reg = await redirectingRegistry(() => store.url)
    const r = await fetchManifest({ registry: reg.url, repository: 'a/b', reference: 'v1', method: 'HEAD', clientAuthorization: BASIC, tokenCache: new TokenCache() })
    expect(r.status).toBe(200)
    for (const s of store.seen) expect(s.headers.authorization).toBeUndefined()
  })

  it('blob bytes: stat and ranged reads follow the redirect without Authorization, and the bytes arrive', async () => {
    const body = 'x'.repeat(1000)
    const store = await storage('127.0.0.2', body)
    const reg = await redirectingRegistry(() => store.url)
    for (const init of [{ credentials: CREDS }, { clientAuthorization: BASIC }]) {
      const o = createOciOrigin({ registry: reg.url, repository: 'a/b', digest: DIGEST, tokenCache: new TokenCache(), ...init })
      expect((await o.stat()).size).toBe(1000)
      let got = ''
      for await (const c of o.read({ start: 10, end: 20 })) got += Buffer.from(c).toString()
      expect(got).toBe(body.slice(10, 20))
    }
    expect(store.seen.length).toBeGreaterThanOrEqual(4)
    for (const s of store.seen) {
      expect(s.headers.authorization).toBeUndefined()
      expect(s.headers.cookie).toBeUndefined()
    }
  })

  it('a redirect within the registry\'s origin keeps the Authorization (the check above is not vacuous)', async () => {
    const reg = await serve('127.0.0.1', (req, res) => {
      if (req.headers.authorization !== BASIC) { res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }); res.end(); return }
      if (req.url?.startsWith('/moved') !== true) { res.writeHead(307, { location: `/moved${req.url ?? ''}` }); res.end(); return }
      res.writeHead(200, { 'content-length': 2 })
      res.end(req.method === 'HEAD' ? undefined : '{}')
    })
    const r = await fetchManifest({ registry: reg.url, repository: 'a/b', reference: 'v1', credentials: CREDS, tokenCache: new TokenCache() })
    expect(r.status).toBe(200)
    const moved = reg.seen.filter(s => s.path.startsWith('/moved'))
    expect(moved.length).toBeGreaterThan(0)
    for (const s of moved) expect(s.headers.authorization).toBe(BASIC)
  })
})
