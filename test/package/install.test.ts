/**
 * The package as a user meets it: `npm pack` of this checkout, the tarball
 * installed into an empty project in a temp folder (outside the repository,
 * so nothing resolves into the source tree), then, from that project only:
 * the README's library snippet exactly as written (node A adds a blob, node
 * B starts with A as bootstrap and fetches the digest with no origin — the
 * add-before-join order), and the installed `starling` command: `--version`,
 * `daemon` + `get` by digest right after a second daemon started, and
 * `get --standalone --bootstrap` by digest.
 *
 * The install is a real `npm ci` of the tarball, offline: the temp project
 * gets a lockfile cut from ours (the runtime packages at the versions this
 * checkout is tested with), so every dependency comes from the npm cache
 * that `npm ci` filled and no registry round trip makes the test slow or
 * flaky. What is under test — the tarball's `files`, `exports`, `bin` and
 * the README — is installed as npm installs any tarball. Set
 * STARLING_PACK_TEST_REGISTRY=1 to resolve the dependencies from the
 * registry instead (`npm install <tarball>`, as a user would; slower).
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, removeDir, runCli, startDaemonProcess, tempDir, type DaemonProcess } from '../cli/helpers.js'

const run = promisify(execFile)
const MiB = 1024 * 1024
const NPM_TIMEOUT_MS = 90_000
const SCRIPT_TIMEOUT_MS = 60_000

let dir: string
let project: string
let pkg: { name: string, version: string, bin: Record<string, string> }
let bin: string
const daemons: DaemonProcess[] = []

/** The child's environment: npm's own variables from an enclosing `npm test` would steer the inner npm (prefix, scripts). */
function cleanEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('npm_') || k === 'npm_config_cache' || k === 'npm_config_registry') env[k] = v
  }
  return { ...env, ...extra }
}

/** The temp project's lockfile: ours without the root and dev packages, plus the tarball at the same place in node_modules. */
async function lockFor (tarball: string): Promise<unknown> {
  const ours = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { [pkg.name]: tarball } }
  }
  for (const [path, entry] of Object.entries(ours.packages)) {
    if (path !== '' && entry.dev !== true) packages[path] = entry
  }
  const own = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
  packages[`node_modules/${pkg.name}`] = {
    version: own.version, resolved: tarball, license: own.license, dependencies: own.dependencies, bin: own.bin, engines: own.engines
  }
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages }
}

/**
 * A consumer written against the published types. If the package shipped
 * no usable types, the import would be untyped (TS7016 under strict) and the
 * expected error below would not happen, which tsc reports too.
 */
const CONSUMER_TS = `import { createNode, type FetchResult, type StarlingNode } from '@starling-swarm/starling'

export async function fetchOnce (digest: string, signal: AbortSignal): Promise<FetchResult> {
  const node: StarlingNode = await createNode({ dataDir: './data', bootstrap: [], bootstrapTimeoutMs: 1000 })
  await node.start({ signal })
  try { return await node.fetch(digest, { signal }) } finally { await node.stop() }
}

// @ts-expect-error the options are typed: an unknown key is refused
void createNode({ dataDir: './data', noSuchOption: true })
`
const CONSUMER_TSCONFIG = {
  compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2024', 'dom'], types: [], strict: true, noEmit: true, skipLibCheck: true },
  files: ['consumer.ts']
}

/** The first ```js block of the README's "## Library" section, as published in the tarball. */
function librarySnippet (readme: string): string {
  const section = readme.split(/^## /m).find(s => s.startsWith('Library'))
  const m = section == null ? null : /```js\n([\s\S]*?)```/.exec(section)
  if (m == null) throw new Error('the README has no ```js block under "## Library"')
  return m[1]
}

beforeAll(async () => {
  dir = await tempDir('starling-pack-')
  project = join(dir, 'consumer')
  await mkdir(project)
  pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
  // `npm test` compiled dist/ a moment ago: the prepare script would only compile it again.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, env: cleanEnv(), timeout: NPM_TIMEOUT_MS })
  const tarball = `file:../${(JSON.parse(packed.stdout) as Array<{ filename: string }>)[0].filename}`
  const t0 = performance.now()
  if (process.env.STARLING_PACK_TEST_REGISTRY === '1') {
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
    await run('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: project, env: cleanEnv(), timeout: NPM_TIMEOUT_MS })
  } else {
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { [pkg.name]: tarball } }))
    await writeFile(join(project, 'package-lock.json'), JSON.stringify(await lockFor(tarball)))
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: project, env: cleanEnv(), timeout: NPM_TIMEOUT_MS }).catch((err: Error & { stderr?: string }) => {
      if (err.stderr?.includes('ENOTCACHED') === true) err.message = `a runtime dependency is not in the npm cache (run \`npm ci\` first, or set STARLING_PACK_TEST_REGISTRY=1): ${err.message}`
      throw err
    })
  }
  console.log(`[package] ${tarball} installed in ${Math.round(performance.now() - t0)} ms`)
  bin = join(project, 'node_modules', '.bin', 'starling')
}, NPM_TIMEOUT_MS * 2)

afterAll(async () => {
  await Promise.all(daemons.map(async d => await d.stop()))
  if (dir != null) await removeDir(dir)
})

describe('the packed package, installed in an empty project', () => {
  it('installs under its own name, with the starling command', async () => {
    expect(pkg.name).not.toBe('starling') // someone else's package on the registry
    expect(Object.keys(pkg.bin)).toEqual(['starling'])
    const installed = JSON.parse(await readFile(join(project, 'node_modules', pkg.name, 'package.json'), 'utf8'))
    expect(installed.version).toBe(pkg.version)
    const r = await run(bin, ['--version'], { cwd: project, env: cleanEnv() })
    expect(r.stdout.trim()).toBe(pkg.version)
  })

  it('ships types: a strict TypeScript consumer compiles against the installed package', async () => {
    await writeFile(join(project, 'consumer.ts'), CONSUMER_TS)
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG))
    // the checkout's compiler, as a tool: what it reads is the temp project and its node_modules only
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    const r = await run(process.execPath, [tsc, '-p', project], { cwd: project, env: cleanEnv(), timeout: SCRIPT_TIMEOUT_MS }).catch((err: { stdout?: string }) => err)
    expect((r as { stdout?: string }).stdout ?? '').toBe('')
  }, SCRIPT_TIMEOUT_MS + 10_000)

  it("runs the README's library snippet as written: B fetches, right after start(), a blob A added before B joined", async () => {
    const readme = await readFile(join(project, 'node_modules', pkg.name, 'README.md'), 'utf8')
    const script = join(project, 'library.mjs')
    await writeFile(script, librarySnippet(readme))
    const t0 = performance.now()
    const { stdout } = await run(process.execPath, [script], { cwd: project, env: cleanEnv(), timeout: SCRIPT_TIMEOUT_MS })
    console.log(`[package] library snippet: ${Math.round(performance.now() - t0)} ms: ${stdout.trim()}`)
    const m = /fetched (\d+) of (\d+) bytes, by source: (\{.*\})/.exec(stdout)
    expect(m, stdout).not.toBeNull()
    expect(Number(m![1])).toBe(Number(m![2]))
    const bySource = JSON.parse(m![3])
    expect(bySource['peer-local']).toBe(Number(m![2]))
    expect(bySource.origin).toBe(0)
  }, SCRIPT_TIMEOUT_MS + 10_000)

  it('starling daemon + starling get by digest right after the second daemon started, and get --standalone --bootstrap', async () => {
    const bytes = randomBytes(4 * MiB)
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    const file = join(dir, 'blob.bin')
    await writeFile(file, bytes)
    // the CLI finds each daemon's API token through its data folder; the runtime folder is this test's own
    const envFor = (dataDir: string): NodeJS.ProcessEnv => cleanEnv({ STARLING_DATA_DIR: dataDir, XDG_RUNTIME_DIR: join(dir, 'run') })
    const opts = (dataDir: string): { bin: string, cwd: string, env: NodeJS.ProcessEnv } => ({ bin, cwd: project, env: envFor(dataDir) })

    const a = await startDaemonProcess(join(dir, 'da'), [], 30_000, opts(join(dir, 'da')))
    daemons.push(a)
    const added = await runCli(['--api', a.api, 'add', file], opts(a.dataDir))
    expect(added.stderr).toBe('')
    expect(added.stdout.trim()).toBe(digest)

    const b = await startDaemonProcess(join(dir, 'db'), ['--bootstrap', a.addresses[0]], 30_000, opts(join(dir, 'db')))
    daemons.push(b)
    const out = join(dir, 'out.bin')
    const got = await runCli(['--api', b.api, '--json', 'get', digest, '-o', out], opts(b.dataDir))
    expect(got.stderr).toBe('')
    expect(got.code).toBe(0)
    console.log(`[package] starling get right after the daemon started: ${Math.round(got.ms)} ms`)
    expect((await readFile(out)).equals(bytes)).toBe(true)
    expect(JSON.parse(got.stdout).bytesBySource.origin ?? 0).toBe(0)

    // and with no daemon: an ephemeral node in the CLI process joins through A and fetches at once
    const out2 = join(dir, 'out2.bin')
    const alone = await runCli(['--json', 'get', digest, '--standalone', '--bootstrap', a.addresses[0], '-o', out2], { bin, cwd: project, env: cleanEnv() })
    expect(alone.stderr).toBe('')
    expect(alone.code).toBe(0)
    expect((await readFile(out2)).equals(bytes)).toBe(true)
    expect(JSON.parse(alone.stdout).bytesBySource.origin ?? 0).toBe(0)
  }, 90_000)
})
