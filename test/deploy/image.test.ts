/**
 * The container image end to end with real parts (docs/deploy.md):
 * scripts/build-image.sh assembles it here without a daemon (umoci) and
 * pushes it (skopeo) to the CNCF registry; real containerd pulls it into two
 * namespaces ("hosts") through two real starling mirror nodes, while a proxy
 * counts what the registry sent; then containerd runs it (runc): the CLI
 * prints its version and the default command, the daemon, starts as the
 * image's unprivileged user and answers /healthz.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../cli/helpers.js'
import type { Containerd } from '../fixtures/containerd.js'
import { layerBytesSent, REAL_NODES, startMirrorPulls, stopMirrorPulls, type TestMirror } from '../fixtures/mirror-pulls.js'
import { freePort, haveBinaries, startRegistry, type CountingProxy, type RegistryProcess } from '../fixtures/registry.js'

const execFileP = promisify(execFile)
const MiB = 1024 * 1024
const REPO = 'starling/starling'
const TAG = 'test'
/** The image must stay small enough to ship through a swarm quickly (docs/deploy.md: ~41 MiB). */
const MAX_IMAGE_BYTES = 80 * MiB
/** Building on a loaded 2-core box copies ~120 MiB and gzips it: minutes, not seconds. */
const BUILD_TIMEOUT_MS = 300_000
const READY_TIMEOUT_MS = 60_000

const TOOLS = ['docker-registry', 'containerd', 'ctr', 'runc', 'skopeo', 'umoci', 'ldd']
const missing = [
  ...(process.getuid?.() === 0 ? [] : ['root']),
  ...TOOLS.filter(t => !haveBinaries(t)),
  ...(REAL_NODES ? [] : ['dist/ (npm run build)'])
]
if (missing.length > 0) console.log(`test/deploy/image: skipped, missing: ${missing.join(', ')} (apt-get install umoci containerd skopeo docker-registry)`)

it.runIf(process.env.CI === 'true' && missing.length > 0)('CI has umoci, containerd, skopeo and the registry, and runs as root', () => {
  expect.fail(`missing: ${missing.join(', ')} (see .ci/run)`)
})

interface ImageConfig { config: { User: string, Entrypoint: string[], Cmd: string[], Env: string[], WorkingDir: string } }

describe.skipIf(missing.length > 0)('the container image: built without a daemon, pulled through starling, run by containerd', () => {
  let dir: string
  let registry: RegistryProcess
  let proxy: CountingProxy
  let containerd: Containerd
  let mirrors: TestMirror[] = []
  let ref: string
  let layers: Array<{ digest: string, size: number }>
  let imageConfig: ImageConfig
  const version = (): Promise<string> => readFile(join(ROOT, 'package.json'), 'utf8').then(s => JSON.parse(s).version as string)
  const hostsFor = (i: number): string => join(dir, `hosts-${i}`)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'starling-image-'))
    registry = await startRegistry(join(dir, 'registry'))
    const t0 = performance.now()
    const built = await execFileP(join(ROOT, 'scripts', 'build-image.sh'), [join(dir, 'build'), TAG, '--push', `${registry.hostPort}/${REPO}`], { timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 << 20 })
    console.log(`build-image.sh + push: ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${built.stdout.trim()}`)
    const layout = join(dir, 'build', 'layout')
    const blob = async (d: string): Promise<any> => JSON.parse(await readFile(join(layout, 'blobs', 'sha256', d.slice(7)), 'utf8'))
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'))
    const manifest = await blob(index.manifests[0].digest)
    layers = manifest.layers
    imageConfig = await blob(manifest.config.digest)

    ;({ proxy, containerd, mirrors } = await startMirrorPulls(dir, registry, 2, hostsFor))
    ref = `${proxy.hostPort}/${REPO}:${TAG}`
  }, BUILD_TIMEOUT_MS + 120_000)

  afterAll(async () => { await stopMirrorPulls({ mirrors, containerd, proxy, registry }, dir) }, 60_000)

  it('is small, runs as an unprivileged user, and has the CLI as entrypoint with `daemon` as default command', () => {
    const total = layers.reduce((a, l) => a + l.size, 0)
    console.log(`image: ${layers.length} layers, ${layers.map(l => `${(l.size / MiB).toFixed(1)} MiB`).join(' + ')} = ${(total / MiB).toFixed(1)} MiB compressed`)
    expect(layers).toHaveLength(2)
    expect(total).toBeLessThan(MAX_IMAGE_BYTES)
    expect(imageConfig.config.User).toBe('10001:10001')
    expect(imageConfig.config.Entrypoint).toEqual(['/usr/local/bin/node', '/opt/starling/bin/starling.js'])
    expect(imageConfig.config.Cmd).toEqual(['daemon'])
  })

  it('the Dockerfile declares the same user, folder, environment, entrypoint and command as the built image', async () => {
    const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8')
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
    const directive = (name: string): string | undefined => new RegExp(`^${name}\\s+(.+)$`, 'm').exec(final)?.[1].trim()
    expect(final).toMatch(/^FROM scratch/m)
    expect(directive('USER')).toBe(imageConfig.config.User)
    expect(directive('WORKDIR')).toBe(imageConfig.config.WorkingDir)
    expect(JSON.parse(directive('ENTRYPOINT') ?? 'null')).toEqual(imageConfig.config.Entrypoint)
    expect(JSON.parse(directive('CMD') ?? 'null')).toEqual(imageConfig.config.Cmd)
    // ENV may continue over lines ending in a backslash.
    const env = /^ENV\s+((?:.*\\\n)*.*)$/m.exec(final)?.[1].split(/\s*\\\n\s*|\s+/).filter(Boolean)
    expect(env?.sort()).toEqual([...imageConfig.config.Env].sort())
  })

  it('two containerd hosts pull it through two starling mirrors; the registry sends the layers about once', async () => {
    const layerBytes = layers.reduce((a, l) => a + l.size, 0)
    for (let i = 0; i < 2; i++) {
      const ms = await containerd.pull(`host${i}`, ref, hostsFor(i))
      const upTo = layerBytesSent(proxy, layers)
      console.log(`pull on host ${i + 1} through its mirror: ${(ms / 1000).toFixed(1)} s; registry layer bytes so far ${(upTo / MiB).toFixed(1)} MiB`)
    }
    const sent = layerBytesSent(proxy, layers)
    console.log(`registry sent ${sent} layer bytes for ${layerBytes} bytes of layers pulled twice: ${(sent / layerBytes).toFixed(3)}x`)
    // containerd itself fetched no blob from the registry: every layer came through a mirror.
    expect(proxy.clientBlobBytes).toBe(0)
    expect(sent).toBeGreaterThanOrEqual(layerBytes)
    expect(sent).toBeLessThanOrEqual(layerBytes * 1.1)
  }, 240_000)

  it('containerd runs it: `starling --version` through the image entrypoint', async () => {
    const args = [...imageConfig.config.Entrypoint, '--version']
    const out = await containerd.ctr('host1', ['run', '--rm', ref, `version-${process.pid}`, ...args])
    expect(out.trim()).toBe(await version())
  }, 120_000)

  it('containerd runs the default command: the daemon starts as uid 10001 and answers /healthz', async () => {
    const port = await freePort()
    const id = `daemon-${process.pid}`
    // Host network so the test can reach the API; the process args are the image's entrypoint + cmd plus listen flags.
    const args = [...imageConfig.config.Entrypoint, ...imageConfig.config.Cmd, '--api', `127.0.0.1:${port}`, '--listen', '/ip4/127.0.0.1/tcp/0']
    await containerd.ctr('host0', ['run', '-d', '--net-host', ref, id, ...args])
    try {
      const deadline = Date.now() + READY_TIMEOUT_MS
      let health = 0
      while (Date.now() < deadline) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).then(r => r.status, () => 0)
        if (health === 200) break
        await new Promise(resolve => setTimeout(resolve, 250))
      }
      expect(health, `the daemon in the container did not answer /healthz within ${READY_TIMEOUT_MS} ms`).toBe(200)
      const ps = await containerd.ctr('host0', ['task', 'ps', id])
      const pid = Number(ps.trim().split('\n')[1]?.trim().split(/\s+/)[0])
      const status = await readFile(`/proc/${pid}/status`, 'utf8')
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe('10001')
    } finally {
      await containerd.ctr('host0', ['task', 'kill', '-s', 'SIGKILL', id]).catch(() => {})
      for (let i = 0; i < 50; i++) {
        const removed = await containerd.ctr('host0', ['task', 'rm', '-f', id]).then(() => true, () => false)
        if (removed) break
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      await containerd.ctr('host0', ['containers', 'rm', id]).catch(() => {})
    }
  }, 120_000)
})
