import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { renderHostsToml, writeContainerdConfig } from '../../src/cli/commands/containerd-config.js'
import { parseImageRef } from '../../src/cli/commands/preheat.js'
import { parseChallenge } from '../../src/origin/oci.js'
import { checkDigest, isValidName, parseRoute } from '../../src/registry/index.js'
import { parseRange } from '../../src/registry/range.js'
import { MAX_PIECE_MAP_HINTS, PIECE_MAP_ANNOTATION, PieceMapHints, pieceMapsOf } from '../../src/registry/piece-maps.js'

describe('registry input checks', () => {
  it('repository names follow the distribution spec', () => {
    for (const ok of ['a', 'library/alpine', 'a/b/c', 'my-app', 'my__app', 'a.b/c_d', 'x--y']) expect(isValidName(ok)).toBe(true)
    for (const bad of ['', 'A', 'a/../b', '..', 'a..b', 'a/', '/a', 'a//b', 'a_', '-a', 'a%2fb', 'a b', 'x'.repeat(256)]) expect(isValidName(bad)).toBe(false)
  })
  it('digests: sha256 only, malformed told apart from unsupported', () => {
    expect(checkDigest(`sha256:${'a'.repeat(64)}`)).toBe('ok')
    expect(checkDigest(`sha256:${'A'.repeat(64)}`)).toBe('invalid')
    expect(checkDigest('sha256:abc')).toBe('invalid')
    expect(checkDigest(`sha512:${'a'.repeat(128)}`)).toBe('unsupported')
    expect(checkDigest('latest')).toBe('invalid')
  })
  it('routes split the name from the reference', () => {
    expect(parseRoute('/v2/a/b/manifests/v1')).toEqual({ name: 'a/b', kind: 'manifests', reference: 'v1' })
    expect(parseRoute('/v2/a/blobs/uploads/')).toBeUndefined()
  })
  it('ranges', () => {
    expect(parseRange('bytes=10-', 100)).toEqual({ kind: 'ok', start: 10, end: 100 })
    expect(parseRange('bytes=10-19', 100)).toEqual({ kind: 'ok', start: 10, end: 20 })
    expect(parseRange('bytes=-5', 100)).toEqual({ kind: 'ok', start: 95, end: 100 })
    expect(parseRange('bytes=90-500', 100)).toEqual({ kind: 'ok', start: 90, end: 100 })
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' })
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'none' })
    expect(parseRange(undefined, 100)).toEqual({ kind: 'none' })
  })
  it('challenges', () => {
    const c = parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"')
    expect(c?.scheme).toBe('bearer')
    expect(c?.params).toEqual({ realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' })
    expect(parseChallenge('Basic realm="x"')?.scheme).toBe('basic')
    expect(parseChallenge(undefined)).toBeUndefined()
  })
})

describe('containerd-config and image references', () => {
  it('writes hosts.toml per registry and _default', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'starling-hosts-'))
    try {
      const w = await writeContainerdConfig({ mirror: 'http://127.0.0.1:5050/', registries: ['docker.io', '_default', '127.0.0.1:5000'], dir })
      expect(w.map(x => x.path)).toEqual(['docker.io', '_default', '127.0.0.1:5000'].map(r => join(dir, r, 'hosts.toml')))
      const hub = await readFile(join(dir, 'docker.io', 'hosts.toml'), 'utf8')
      expect(hub).toContain('server = "https://registry-1.docker.io"')
      expect(hub).toContain('[host."http://127.0.0.1:5050"]')
      expect(hub).toContain('capabilities = ["pull", "resolve"]')
      expect(await readFile(join(dir, '_default', 'hosts.toml'), 'utf8')).not.toContain('server =')
      expect(renderHostsToml('127.0.0.1:5000', 'http://m:1')).toContain('server = "http://127.0.0.1:5000"')
      await expect(writeContainerdConfig({ mirror: 'not a url', registries: ['docker.io'], dir })).rejects.toThrow(/--mirror/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
  it('parses image references like docker does', () => {
    expect(parseImageRef('alpine')).toEqual({ registry: 'docker.io', repository: 'library/alpine', reference: 'latest' })
    expect(parseImageRef('user/app:1.0')).toEqual({ registry: 'docker.io', repository: 'user/app', reference: '1.0' })
    expect(parseImageRef('127.0.0.1:5000/a/b:v1')).toEqual({ registry: '127.0.0.1:5000', repository: 'a/b', reference: 'v1' })
    expect(parseImageRef(`ghcr.io/x/y@sha256:${'a'.repeat(64)}`)).toEqual({ registry: 'ghcr.io', repository: 'x/y', reference: `sha256:${'a'.repeat(64)}` })
  })
})

describe('piece-map annotations on OCI descriptors', () => {
  const layer = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`
  const manifest = (layers: unknown[], config?: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, config, layers }))

  it('reads the CID of each annotated layer and of the config, and nothing else', () => {
    const m = manifest([
      { digest: layer(1), annotations: { [PIECE_MAP_ANNOTATION]: 'bafkreiaaa' } },
      { digest: layer(2) },
      { digest: 'md5:abc', annotations: { [PIECE_MAP_ANNOTATION]: 'bafkreibbb' } },
      { digest: layer(3), annotations: { [PIECE_MAP_ANNOTATION]: 7 } }
    ], { digest: layer(4), annotations: { [PIECE_MAP_ANNOTATION]: 'bafkreiccc' } })
    expect([...pieceMapsOf(m)]).toEqual([[layer(4), 'bafkreiccc'], [layer(1), 'bafkreiaaa']])
    expect(pieceMapsOf(new TextEncoder().encode('not json')).size).toBe(0)
    expect(pieceMapsOf(new TextEncoder().encode(JSON.stringify({ manifests: [] }))).size).toBe(0)
  })

  it('keeps at most MAX_PIECE_MAP_HINTS, the oldest going first', () => {
    const hints = new PieceMapHints()
    const layers = Array.from({ length: MAX_PIECE_MAP_HINTS + 1 }, (_, i) => ({ digest: layer(i + 1), annotations: { [PIECE_MAP_ANNOTATION]: `cid${i}` } }))
    hints.note(manifest(layers))
    expect(hints.get(layer(1))).toBeUndefined()
    expect(hints.get(layer(2))).toBe('cid1')
    expect(hints.get(layer(MAX_PIECE_MAP_HINTS + 1))).toBe(`cid${MAX_PIECE_MAP_HINTS}`)
  })
})
