/**
 * What bench/compare needs around its four runners: the origin as its own
 * process (a fresh byte count per run), free ports, per-process CPU and
 * peak RSS from /proc, installing the competitors (Debian packages with
 * apt-get when root; Helia with npm into a cache folder, never into the
 * project), and bounded waits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { cpuSeconds, median, peakRssMiB } from './util.js'

export interface NodeFigures { cpuS: { median: number, max: number }, rssMiB: { median: number, max: number } }

export interface RunResult extends Partial<NodeFigures> {
  tool: string
  nodes: number
  capped: boolean
  /** Time until all N held verified bytes. */
  seconds?: number
  /** Origin bytes ÷ blob size. */
  originRatio?: number
  /** Why the tool did not run, or how the run failed. */
  unavailable?: string
  error?: string
}

export interface RunContext {
  file: string
  digest: string
  size: number
  nodes: number
  /** Origin cap in bytes per second (0: none). */
  rate: number
  dir: string
  timeoutMs: number
  /** Our compiled tree (dist/), for the origin fixture and the starling node fixture. */
  distRoot: string
}

export interface Origin { url: string, proc: ChildProcess, bytesSent: () => Promise<number>, close: () => void }

/** The test origin (test/fixtures/origin-server-main.ts) as its own process, capped at `rate` bytes/s in total. */
export async function startOrigin (ctx: RunContext): Promise<Origin> {
  const args = [join(ctx.distRoot, 'test', 'fixtures', 'origin-server-main.js'), '--file', `/blob=${ctx.file}`, ...(ctx.rate > 0 ? ['--rate', String(ctx.rate)] : [])]
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await firstLine(proc, 30_000)
  const { url } = JSON.parse(line) as { url: string }
  return {
    url,
    proc,
    bytesSent: async () => ((await (await fetch(`${url}/__stats`)).json()) as { bytesSent: number }).bytesSent,
    close: () => { proc.kill() }
  }
}

export async function firstLine (proc: ChildProcess, timeoutMs: number): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error('no output in time')) }, timeoutMs)
    proc.once('exit', code => { clearTimeout(t); reject(new Error(`exited with ${code} before its first line`)) })
    createInterface({ input: proc.stdout! }).once('line', l => { clearTimeout(t); resolve(l) })
  })
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

/** CPU seconds since `cpu0` and peak RSS of live processes, as median and max over nodes. */
export async function nodeFigures (pids: number[], cpu0: number[]): Promise<NodeFigures> {
  const cpu = await Promise.all(pids.map(async (p, i) => await cpuSeconds(p).catch(() => NaN) - cpu0[i]))
  const rss = await Promise.all(pids.map(async p => await peakRssMiB(p).catch(() => NaN)))
  return { cpuS: { median: median(cpu), max: Math.max(...cpu) }, rssMiB: { median: median(rss), max: Math.max(...rss) } }
}

export function figuresOf (cpu: number[], rss: number[]): NodeFigures {
  return { cpuS: { median: median(cpu), max: Math.max(...cpu) }, rssMiB: { median: median(rss), max: Math.max(...rss) } }
}

export async function sha256File (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) h.update(chunk as Buffer)
  return `sha256:${h.digest('hex')}`
}

/** Polls `done` every `everyMs` until it is true or `timeoutMs` passed (false then). */
export async function waitUntil (done: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = performance.now() + timeoutMs
  while (performance.now() < end) {
    if (await done()) return true
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  return false
}

/**
 * The Debian commands a runner needs: present, or installed with apt-get
 * when we are root (once per run of the bench). Returns why not, or undefined.
 */
const aptTried = new Set<string>()
export function needCommands (commands: Record<string, string>): string | undefined {
  const missing = Object.entries(commands).filter(([cmd]) => !hasCommand(cmd))
  if (missing.length === 0) return undefined
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))].filter(p => !aptTried.has(p))
  if (pkgs.length > 0 && process.getuid?.() === 0) {
    for (const p of pkgs) aptTried.add(p)
    console.log(`installing ${pkgs.join(' ')} with apt-get…`)
    spawnSync('apt-get', ['install', '-y', ...pkgs], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  }
  const still = missing.filter(([cmd]) => !hasCommand(cmd)).map(([cmd, pkg]) => `${cmd} (Debian ${pkg})`)
  return still.length === 0 ? undefined : `not installed: ${still.join(', ')}${process.getuid?.() === 0 ? '' : '; not root, so not installed by the bench'}`
}

function hasCommand (cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

/** Helia lives in its own folder with its own package.json, so `npm ci` for the tests never pulls it in. */
export const HELIA_DIR = process.env.STARLING_BENCH_HELIA_DIR ?? join(homedir(), '.cache', 'starling-bench', 'helia')
const HELIA_PACKAGE = {
  name: 'starling-bench-helia',
  private: true,
  type: 'module',
  dependencies: {
    helia: '7.1.15',
    '@helia/unixfs': '8.0.5',
    'blockstore-fs': '*',
    'datastore-fs': '*',
    '@libp2p/tcp': '*',
    '@chainsafe/libp2p-noise': '*',
    '@libp2p/yamux': '*',
    '@libp2p/identify': '*',
    '@multiformats/multiaddr': '*',
    multiformats: '*'
  },
  // undici 8 (pulled in by @libp2p/http) needs Node 22's zstd; 7 runs on Node 20
  overrides: { undici: '^7.16.0' }
}

/** Installs Helia into HELIA_DIR if needed and puts our peer script there; returns why not, or undefined. */
export async function prepareHelia (benchSrc: string): Promise<string | undefined> {
  await mkdir(HELIA_DIR, { recursive: true })
  if (!existsSync(join(HELIA_DIR, 'node_modules', 'helia', 'package.json'))) {
    await writeFile(join(HELIA_DIR, 'package.json'), JSON.stringify(HELIA_PACKAGE, null, 2))
    console.log(`installing helia into ${HELIA_DIR} with npm…`)
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: HELIA_DIR, stdio: 'ignore', timeout: 600_000 })
    if (r.status !== 0) return `npm install of helia into ${HELIA_DIR} failed (exit ${r.status ?? r.signal})`
  }
  await copyFile(benchSrc, join(HELIA_DIR, 'helia-peer.mjs'))
  return undefined
}
