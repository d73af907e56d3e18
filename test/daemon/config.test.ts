import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configFromEnv, DEFAULT_API, DEFAULT_LISTEN, loadConfig } from '../../src/daemon/config.js'

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'starling-config-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

async function yamlFile (text: string): Promise<string> {
  const f = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`)
  await writeFile(f, text)
  return f
}

const PEER = '/ip4/127.0.0.1/tcp/7480/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

describe('loadConfig', () => {
  it('has documented defaults', async () => {
    const c = await loadConfig({ env: {} })
    expect(c.api).toBe(DEFAULT_API)
    expect(c.listen).toEqual([DEFAULT_LISTEN])
    expect(c.bootstrap).toEqual([])
    expect(c.dataDir).toBe(join(homedir(), '.local', 'share', 'starling'))
    expect((await loadConfig({ env: { XDG_DATA_HOME: '/xdg' } })).dataDir).toBe('/xdg/starling')
    expect(c.cacheSize).toBeUndefined()
    expect(c.registry.upstreams).toEqual({ 'docker.io': 'https://registry-1.docker.io' })
    expect(c.gcInterval).toBe(600_000)
  })

  it('YAML < env < flags', async () => {
    const file = await yamlFile('cacheSize: 1GiB\nlocation: a\nuploadRate: 1MiB\ndataDir: /from/yaml\n')
    const c = await loadConfig({
      file,
      env: { STARLING_LOCATION: 'b', STARLING_UPLOAD_RATE: '2MiB', STARLING_DATA_DIR: '/from/env' },
      flags: { dataDir: '/from/flag', location: undefined }
    })
    expect(c.cacheSize).toBe(1024 ** 3) // only in YAML
    expect(c.location).toBe('b') // env beats YAML
    expect(c.uploadRate).toBe(2 * 1024 * 1024)
    expect(c.dataDir).toBe('/from/flag') // flag beats env
  })

  it('splits env lists and registry upstreams', () => {
    const raw = configFromEnv({ STARLING_BOOTSTRAP: `${PEER}, ${PEER}`, STARLING_REGISTRY: '127.0.0.1:5000', STARLING_REGISTRY_UPSTREAM: 'ghcr.io=https://ghcr.io' })
    expect(raw.bootstrap).toEqual([PEER, PEER])
    expect(raw.registry).toEqual({ listen: '127.0.0.1:5000', upstreams: { 'ghcr.io': 'https://ghcr.io' } })
  })

  it('merges registry upstreams across sources and keeps docker.io', async () => {
    const file = await yamlFile('registry:\n  listen: 127.0.0.1:5000\n  upstreams:\n    ghcr.io: https://ghcr.io\n')
    const c = await loadConfig({ file, env: {}, flags: { registry: { upstreams: { 'quay.io': 'https://quay.io' } } } })
    expect(c.registry.listen).toBe('127.0.0.1:5000')
    expect(c.registry.upstreams).toEqual({ 'docker.io': 'https://registry-1.docker.io', 'ghcr.io': 'https://ghcr.io', 'quay.io': 'https://quay.io' })
  })

  it('names an unknown key', async () => {
    const file = await yamlFile('cacheSize: 1GiB\ncahceSize: 2GiB\n')
    await expect(loadConfig({ file, env: {} })).rejects.toThrow(/unknown config key cahceSize; known keys: .*cacheSize/)
    const nested = await yamlFile('registry:\n  lisen: 127.0.0.1:5000\n')
    await expect(loadConfig({ file: nested, env: {} })).rejects.toThrow(/unknown config key registry\.lisen/)
  })

  it('names a bad value and where it came from', async () => {
    const file = await yamlFile('cacheSize: lots\n')
    await expect(loadConfig({ file, env: {} })).rejects.toThrow(new RegExp(`^cacheSize \\(in ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): expected a byte size`))
    await expect(loadConfig({ env: { STARLING_CACHE_SIZE: '10 GB of stuff' } })).rejects.toThrow(/^cacheSize \(from STARLING_CACHE_SIZE\): expected a byte size/)
    await expect(loadConfig({ env: {}, flags: { downloadRate: '0' } })).rejects.toThrow(/^downloadRate \(from --download-rate\): expected a rate above 0/)
    await expect(loadConfig({ env: {}, flags: { api: 'localhost' } })).rejects.toThrow(/^api \(from --api\): expected HOST:PORT/)
    await expect(loadConfig({ env: {}, flags: { bootstrap: ['/ip4/127.0.0.1/tcp/1'] } })).rejects.toThrow(/^bootstrap\.0 \(from --bootstrap\): a bootstrap address needs the peer id/)
    await expect(loadConfig({ env: {}, flags: { logLevel: 'loud' } })).rejects.toThrow(/^logLevel/)
  })

  it('reports YAML syntax errors and a missing file with the path', async () => {
    const file = await yamlFile('cacheSize: [1\n')
    await expect(loadConfig({ file, env: {} })).rejects.toThrow(/invalid YAML/)
    await expect(loadConfig({ file: join(dir, 'nope.yaml'), env: {} })).rejects.toThrow(/cannot read config file .*nope\.yaml: ENOENT/)
    const list = await yamlFile('- a\n- b\n')
    await expect(loadConfig({ file: list, env: {} })).rejects.toThrow(/expected a mapping/)
  })

  it('reads the example config', async () => {
    const c = await loadConfig({ file: join(import.meta.dirname ?? '', '..', '..', 'examples', 'starling.yaml'), env: {} })
    expect(c.api).toBe('127.0.0.1:7483')
    expect(c.cacheSize).toBeGreaterThan(0)
  })

  it('takes a memory limit from a flag, the environment or the file, and refuses one under 64 MiB', async () => {
    expect((await loadConfig({ env: {} })).memoryLimit).toBeUndefined()
    expect((await loadConfig({ env: { STARLING_MEMORY_LIMIT: '128MiB' } })).memoryLimit).toBe(128 * 1024 ** 2)
    const file = await yamlFile('memoryLimit: 1GiB\n')
    expect((await loadConfig({ file, env: {}, flags: { memoryLimit: '256M' } })).memoryLimit).toBe(256 * 1024 ** 2)
    expect((await loadConfig({ file, env: {} })).memoryLimit).toBe(1024 ** 3)
    await expect(loadConfig({ env: {}, flags: { memoryLimit: '32MiB' } })).rejects.toThrow(/^memoryLimit \(from --memory-limit\): expected at least 64\.0 MiB .*got 32\.0 MiB/)
    await expect(loadConfig({ env: { STARLING_MEMORY_LIMIT: 'half' } })).rejects.toThrow(/^memoryLimit \(from STARLING_MEMORY_LIMIT\): expected a byte size/)
  })
})
