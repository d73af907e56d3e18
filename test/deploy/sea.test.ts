/**
 * The single-file binary (docs/deploy.md#single-file-binary): built by
 * scripts/build-sea.mjs (esbuild bundle + Node SEA + postject), then run
 * alone in a temp folder (no package.json, dist/ or node_modules to find),
 * with a bare environment (no NODE_OPTIONS), as the CLI (`--version`) and as the daemon with
 * its LevelDB store, through which its own CLI fetches a file from a local
 * HTTP origin and verifies it.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, removeDir, runCli, startDaemonProcess, tempDir, type DaemonProcess } from '../cli/helpers.js'
import { startOriginServer, type OriginServer } from '../fixtures/origin-server.js'

const run = promisify(execFile)
const MiB = 1024 * 1024
const BUILD_TIMEOUT_MS = 240_000
const FILE_BYTES = 3 * MiB + 12345

const missing = [
  ...(process.platform === 'linux' ? [] : ['Linux']),
  ...['esbuild', 'postject'].filter(p => !existsSync(join(ROOT, 'node_modules', p, 'package.json'))).map(p => `${p} (npm ci)`),
  ...(existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? [] : ['dist/ (npm run build)'])
]
if (missing.length > 0) console.log(`test/deploy/sea: skipped, missing: ${missing.join(', ')}`)

describe.skipIf(missing.length > 0)('the single-file binary', () => {
  let dir: string
  let bin: string
  let origin: OriginServer
  let daemon: DaemonProcess | undefined
  let env: NodeJS.ProcessEnv
  const data = randomBytes(FILE_BYTES)
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`

  beforeAll(async () => {
    dir = await tempDir('starling-sea-')
    const t0 = performance.now()
    const r = await run(process.execPath, [join(ROOT, 'scripts', 'build-sea.mjs'), join(dir, 'build')], { timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 << 20 })
    const built = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { binary: string, bytes: number, bundleBytes: number }
    console.log(`build-sea: ${((performance.now() - t0) / 1000).toFixed(1)} s; binary ${(built.bytes / MiB).toFixed(1)} MiB (bundle ${(built.bundleBytes / MiB).toFixed(1)} MiB)`)
    // Alone in a folder of its own: nothing to resolve package.json, dist/ or node_modules from.
    bin = join(dir, 'bin', 'starling')
    await run('install', ['-D', '-m', '0755', built.binary, bin])
    // A bare environment: no NODE_OPTIONS or NODE_EXTRA_CA_CERTS from the test runner.
    env = { PATH: '/usr/bin:/bin', HOME: dir, XDG_RUNTIME_DIR: join(dir, 'run'), STARLING_RUNTIME_DIR: join(dir, 'run', 'starling') }
    origin = await startOriginServer({ files: { '/model.bin': data } })
  }, BUILD_TIMEOUT_MS + 30_000)

  afterAll(async () => {
    await daemon?.stop()
    await origin?.close()
    if (dir != null) await removeDir(dir)
  }, 30_000)

  it('is an executable, not a script, and prints the package version', async () => {
    const head = (await readFile(bin)).subarray(0, 4)
    expect(head.toString('latin1')).toBe('\x7fELF')
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    const r = await runCli(['--version'], { bin, env, cwd: dir })
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: `${pkg.version}\n` })
  })

  it('runs the daemon (LevelDB store from the embedded addon), and its CLI gets a file from an HTTP origin', async () => {
    daemon = await startDaemonProcess(join(dir, 'data'), [], 60_000, { bin, env: { ...env, STARLING_DATA_DIR: join(dir, 'data') }, cwd: dir })
    const out = join(dir, 'model.bin')
    const cliEnv = { ...env, STARLING_API: daemon.api, STARLING_DATA_DIR: join(dir, 'data') }
    const r = await runCli(['--json', 'get', `${origin.url}/model.bin`, '--digest', digest, '-o', out], { bin, env: cliEnv, cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(createHash('sha256').update(await readFile(out)).digest('hex')).toBe(digest.slice(7))
    expect(origin.bytesSent()).toBeGreaterThanOrEqual(FILE_BYTES)
    // The daemon holds it now: its store (LevelDB index + files) worked.
    const ls = await runCli(['--json', 'ls'], { bin, env: cliEnv, cwd: dir })
    expect(ls.code, ls.stderr).toBe(0)
    expect(ls.stdout).toContain(digest)
  }, 120_000)
})
