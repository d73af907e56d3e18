/**
 * Private upstreams with real parts: the CNCF registry behind token auth
 * (our small token server) and behind htpasswd basic auth; containerd pulls
 * through the mirror with its own credentials; callers without access are
 * refused even when the node already holds the blob.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeContainerdConfig } from '../../src/cli/commands/containerd-config.js'
import { createOciOrigin, TokenCache } from '../../src/origin/oci.js'
import { createRegistryMirror, type RegistryMirror } from '../../src/registry/index.js'
import { startContainerd, type Containerd } from '../fixtures/containerd.js'
import { buildImage, haveBinaries, pushImage, run, startRegistry, type ImageLayout, type RegistryProcess } from '../fixtures/registry.js'
import { startTokenServer, type TokenServer } from '../fixtures/token-server.js'
import { createFakeNode, type FakeNode } from './fake-node.js'

const REAL = process.getuid?.() === 0 && haveBinaries('docker-registry', 'containerd', 'ctr', 'skopeo', 'htpasswd', 'openssl')
const REPO = 'private/app'
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`

describe.skipIf(!REAL)('private upstreams (token auth, basic auth)', () => {
  let dir: string
  let image: ImageLayout
  let containerd: Containerd
  let tokens: TokenServer
  let tokenReg: RegistryProcess
  let basicReg: RegistryProcess
  const stops: Array<() => Promise<void>> = []

  async function mirrorFor (reg: RegistryProcess, extra: { credentials?: Record<string, { username: string, password: string }>, accessCheck?: boolean } = {}): Promise<{ mirror: RegistryMirror, node: FakeNode }> {
    const node = createFakeNode()
    const mirror = createRegistryMirror({ node }, { listen: '127.0.0.1:0', upstreams: { [reg.hostPort]: reg.url }, ...extra })
    await mirror.start()
    stops.push(async () => { await mirror.stop() })
    return { mirror, node }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-auth-'))
    image = await buildImage(join(dir, 'image'), [2 << 20, 1 << 20])
    tokens = await startTokenServer(dir, { alice: 'alice-pw', bob: 'bob-pw' }, { alice: ['private/'] })
    tokenReg = await startRegistry(join(dir, 'treg'), { token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certPath } })
    const htpasswd = join(dir, 'htpasswd')
    await writeFile(htpasswd, (await run('htpasswd', ['-Bbn', 'alice', 'alice-pw'])).stdout)
    basicReg = await startRegistry(join(dir, 'breg'), { htpasswd })
    await pushImage(image, tokenReg.hostPort, REPO, 'alice:alice-pw')
    await pushImage(image, basicReg.hostPort, REPO, 'alice:alice-pw')
    containerd = await startContainerd(join(dir, 'ctd'))
  }, 120_000)

  afterAll(async () => {
    for (const s of stops) await s().catch(() => {})
    await containerd?.stop().catch(() => {})
    await tokenReg?.stop().catch(() => {})
    await basicReg?.stop().catch(() => {})
    await tokens?.stop().catch(() => {})
    if (dir != null) await rm(dir, { recursive: true, force: true }).catch(() => {})
  }, 60_000)

  it('OCI origin: token flow with credentials, token cached per scope', async () => {
    const cache = new TokenCache()
    const layer = image.layers[0]
    const o = createOciOrigin({ registry: tokenReg.url, repository: REPO, digest: layer.digest, credentials: { username: 'alice', password: 'alice-pw' }, tokenCache: cache })
    expect((await o.stat()).size).toBe(layer.size)
    const asked = tokens.requests
    const h = createHash('sha256')
    for await (const c of o.read({ start: 0, end: layer.size })) h.update(c)
    expect(`sha256:${h.digest('hex')}`).toBe(layer.digest)
    const again = createOciOrigin({ registry: tokenReg.url, repository: REPO, digest: image.layers[1].digest, credentials: { username: 'alice', password: 'alice-pw' }, tokenCache: cache })
    expect((await again.stat()).size).toBe(image.layers[1].size)
    expect(tokens.requests).toBe(asked) // same registry and scope: no new token
    const anon = createOciOrigin({ registry: tokenReg.url, repository: REPO, digest: layer.digest, tokenCache: cache })
    await expect(anon.stat()).rejects.toMatchObject({ name: 'OriginError', status: 401 })
  })

  for (const kind of ['token', 'basic'] as const) {
    it(`${kind} auth: containerd pulls through the mirror with its own credentials; callers without access are refused`, async () => {
      const reg = kind === 'token' ? tokenReg : basicReg
      const { mirror, node } = await mirrorFor(reg)
      const hosts = join(dir, `hosts-${kind}`)
      await writeContainerdConfig({ mirror: mirror.url, registries: [reg.hostPort], dir: hosts })
      await containerd.pull(kind, `${reg.hostPort}/${REPO}:${image.tag}`, hosts, ['--user', 'alice:alice-pw'])
      // The layers came through the mirror (the node holds them).
      for (const l of image.layers) expect(node.local.has(l.digest)).toBe(true)

      const path = `${mirror.url}/v2/${REPO}/blobs/${image.layers[0].digest}?ns=${encodeURIComponent(reg.hostPort)}`
      const anon = await fetch(path)
      expect(anon.status).toBe(401)
      expect(anon.headers.get('www-authenticate') ?? '').toMatch(kind === 'token' ? /^Bearer realm=/ : /^Basic/)
      expect(((await anon.json()) as any).errors[0].code).toBe('UNAUTHORIZED')
      const wrong = kind === 'token' ? `Bearer ${tokens.tokenFor('bob', `repository:${REPO}:pull`)}` : basic('alice', 'wrong')
      const refused = await fetch(path, { headers: { authorization: wrong } })
      expect([401, 403]).toContain(refused.status)
      const right = kind === 'token' ? `Bearer ${tokens.tokenFor('alice', `repository:${REPO}:pull`)}` : basic('alice', 'alice-pw')
      const ok = await fetch(path, { headers: { authorization: right } })
      expect(ok.status).toBe(200)
      const body = Buffer.from(await ok.arrayBuffer())
      expect(body.equals(await readFile(join(image.dir, 'blobs', 'sha256', image.layers[0].digest.slice(7))))).toBe(true)
    }, 120_000)
  }

  it('a mirror with its own credentials still refuses a caller who has none, though it holds the blob', async () => {
    const { mirror, node } = await mirrorFor(basicReg, { credentials: { [basicReg.hostPort]: { username: 'alice', password: 'alice-pw' } } })
    const q = `?ns=${encodeURIComponent(basicReg.hostPort)}`
    // Warm the node with an authorized caller, then ask anonymously.
    const warm = await fetch(`${mirror.url}/v2/${REPO}/blobs/${image.layers[1].digest}${q}`, { headers: { authorization: basic('alice', 'alice-pw') } })
    expect(warm.status).toBe(200)
    await warm.arrayBuffer()
    expect(node.local.has(image.layers[1].digest)).toBe(true)
    const anon = await fetch(`${mirror.url}/v2/${REPO}/blobs/${image.layers[1].digest}${q}`)
    expect(anon.status).toBe(401)
  }, 60_000)

  // Issue #9: manifests by tag, or by a digest the node does not hold, were
  // fetched with the mirror's own credentials for anonymous callers.
  for (const kind of ['token', 'basic'] as const) {
    it(`${kind} auth: a mirror with its own credentials gives an anonymous caller no private manifest, by tag or by digest; an authorised caller gets it`, async () => {
      const reg = kind === 'token' ? tokenReg : basicReg
      const { mirror, node } = await mirrorFor(reg, { credentials: { [reg.hostPort]: { username: 'alice', password: 'alice-pw' } } })
      const q = `?ns=${encodeURIComponent(reg.hostPort)}`
      const accept = 'application/vnd.oci.image.manifest.v1+json'
      const byTag = `${mirror.url}/v2/${REPO}/manifests/${image.tag}${q}`
      const byDigest = `${mirror.url}/v2/${REPO}/manifests/${image.manifest.digest}${q}`
      const refused = async (url: string, method: string, headers: Record<string, string> = {}): Promise<void> => {
        const r = await fetch(url, { method, headers: { accept, ...headers } })
        const body = Buffer.from(await r.arrayBuffer()).toString('utf8')
        expect(r.status, `${method} ${url}`).toBe(401)
        expect(body).not.toContain('"layers"') // no manifest bytes, whatever the error body says
        if (method === 'GET') expect(JSON.parse(body).errors[0].code).toBe('UNAUTHORIZED')
        expect(r.headers.get('www-authenticate') ?? '').toMatch(kind === 'token' ? /^Bearer realm=/ : /^Basic/)
      }
      // Anonymous, the node holding nothing: by tag (HEAD and GET) and by digest.
      for (const method of ['HEAD', 'GET']) {
        await refused(byTag, method)
        await refused(byDigest, method)
      }
      expect(node.local.has(image.manifest.digest)).toBe(false)
      const wrong = kind === 'token' ? `Bearer ${tokens.tokenFor('bob', `repository:${REPO}:pull`)}` : basic('alice', 'wrong')
      const w = await fetch(byTag, { headers: { accept, authorization: wrong } })
      expect([401, 403]).toContain(w.status)
      await w.arrayBuffer()

      // The authorised caller gets both, with the right bytes; the mirror keeps the one by digest.
      const right = kind === 'token' ? `Bearer ${tokens.tokenFor('alice', `repository:${REPO}:pull`)}` : basic('alice', 'alice-pw')
      const tag = await fetch(byTag, { headers: { accept, authorization: right } })
      expect(tag.status).toBe(200)
      expect(tag.headers.get('docker-content-digest')).toBe(image.manifest.digest)
      const expected = await readFile(join(image.dir, 'blobs', 'sha256', image.manifest.digest.slice(7)))
      expect(Buffer.from(await tag.arrayBuffer()).equals(expected)).toBe(true)
      const dig = await fetch(byDigest, { headers: { accept, authorization: right } })
      expect(dig.status).toBe(200)
      expect(Buffer.from(await dig.arrayBuffer()).equals(expected)).toBe(true)
      for (let i = 0; i < 50 && !node.local.has(image.manifest.digest); i++) await new Promise(resolve => setTimeout(resolve, 20))
      expect(node.local.has(image.manifest.digest)).toBe(true)

      // Held now: still refused to an anonymous caller.
      await refused(byDigest, 'GET')
      await refused(byDigest, 'HEAD')
    }, 60_000)
  }

  it('accessCheck: false (a trusted cluster): the mirror\'s credentials fetch manifests for anonymous callers', async () => {
    const { mirror } = await mirrorFor(basicReg, { credentials: { [basicReg.hostPort]: { username: 'alice', password: 'alice-pw' } }, accessCheck: false })
    const q = `?ns=${encodeURIComponent(basicReg.hostPort)}`
    const tag = await fetch(`${mirror.url}/v2/${REPO}/manifests/${image.tag}${q}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
    expect(tag.status).toBe(200)
    expect(tag.headers.get('docker-content-digest')).toBe(image.manifest.digest)
    const dig = await fetch(`${mirror.url}/v2/${REPO}/manifests/${image.manifest.digest}${q}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
    expect(dig.status).toBe(200)
    await dig.arrayBuffer()
  }, 60_000)
})
