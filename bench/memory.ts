/**
 * Memory of one daemon under a big fetch and under many uploads (issue #13:
 * a daemon fetching a 1 GiB blob and serving 32 uploads stays under
 * 128 MiB RSS with `--memory-limit 128MiB`). For each limit asked for
 * (`none` = no --memory-limit): a real `starling daemon` process over
 * loopback TCP fetches the blob from a real HTTP origin
 * (test/fixtures/origin-server-main.ts) through its API, streaming it to
 * this process, which checks its sha256; then UPLOADS peers (light libp2p
 * clients, bench/memory-peers.ts, spread over CLIENTS processes) ask it for
 * pieces of that blob for UPLOAD_S seconds, PIPELINE requests each. The
 * daemon's RSS (/proc) and V8 heap (its /metrics) are sampled every
 * SAMPLE_MS. Prints the peaks per phase and writes
 * bench/results/memory-<date>.json. Exits nonzero only on errors, never on
 * a missed goal.
 *   npm run build && node dist/bench/memory.js [--size-mib 1024] [--limits none,128MiB]
 *     [--uploads 32] [--clients 4] [--pipeline 2] [--upload-s 30] [--sample-ms 200]
 *     [--daemon-node-options '--max-semi-space-size=2']
 * The blob is written to a temporary file (random bytes, streamed) and the
 * daemon stores its own copy: about 2 × size of disk for the run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { get } from 'node:http'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { firstJsonLine, writeRandomFile } from './util.js'
import { peaks, procMemory, startSampler, type PhasePeaks, type Sample } from './memory-sample.js'

const MiB = 1024 * 1024
const argv = process.argv.slice(2)
if (argv.includes('--help')) {
  console.log((await import('node:fs')).readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^\/\*\*?/, '').replace(/^ \* ?/gm, ''))
  process.exit(0)
}
const opt = (name: string, dflt: string): string => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt }
const sizeMiB = Number(opt('size-mib', '1024'))
const limits = opt('limits', 'none,128MiB').split(',')
const uploads = Number(opt('uploads', '32'))
const clients = Number(opt('clients', '4'))
const pipeline = Number(opt('pipeline', '2'))
const uploadSeconds = Number(opt('upload-s', '30'))
const sampleMs = Number(opt('sample-ms', '200'))
/** NODE_OPTIONS for the daemon (e.g. V8 heap flags, to compare with what --memory-limit chooses); none by default. */
const daemonNodeOptions = opt('daemon-node-options', '')
/** Before the fetch: what an idle daemon holds. */
const IDLE_MS = 3000
/** After the fetch: the download lingers on its topic, buffers are let go. */
const SETTLE_MS = 3000
const DAEMON_READY_MS = 60_000

const here = dirname(fileURLToPath(import.meta.url)) // dist/bench
const repoRoot = dirname(dirname(here))
const starlingBin = join(repoRoot, 'bin', 'starling.js')
const originMain = join(dirname(here), 'test', 'fixtures', 'origin-server-main.js')

interface DaemonProc { proc: ChildProcess, pid: number, api: string, peerId: string, addr: string, token: string, stderr: () => string }

/** Starts `starling daemon` and waits for its "daemon ready" log line; `pid` is the process that serves (it may be a child of `proc`). */
async function startDaemon (dataDir: string, runtimeDir: string, limit: string): Promise<DaemonProc> {
  const args = [starlingBin, '--api', '127.0.0.1:0', 'daemon', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0',
    '--gc-interval', '0', '--log-level', 'info', ...(limit === 'none' ? [] : ['--memory-limit', limit])]
  const env: NodeJS.ProcessEnv = { ...process.env, STARLING_RUNTIME_DIR: runtimeDir }
  delete env.STARLING_CONFIG
  if (daemonNodeOptions === '') delete env.NODE_OPTIONS
  else env.NODE_OPTIONS = daemonNodeOptions
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env })
  let tail = ''
  const ready = await new Promise<any>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`daemon not ready in time: ${tail}`)) }, DAEMON_READY_MS)
    proc.once('exit', code => { clearTimeout(t); reject(new Error(`daemon exited with ${code}: ${tail}`)) })
    createInterface({ input: proc.stderr! }).on('line', line => {
      tail = (tail + line + '\n').slice(-4000)
      let msg: any
      try { msg = JSON.parse(line) } catch { return }
      if (msg.msg === 'daemon ready') { clearTimeout(t); resolve(msg) }
    })
  })
  const record = (await readdir(runtimeDir)).find(f => f.startsWith('api-') && f.endsWith('.json'))
  const pid = record == null ? proc.pid! : (JSON.parse(await readFile(join(runtimeDir, record), 'utf8')) as { pid: number }).pid
  const addr = (ready.addresses as string[]).find(a => a.startsWith('/ip4/127.0.0.1/'))
  if (addr == null) throw new Error(`daemon has no loopback address: ${JSON.stringify(ready.addresses)}`)
  const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim()
  return { proc, pid, api: ready.api, peerId: ready.peerId, addr, token, stderr: () => tail }
}

async function stopDaemon (d: DaemonProc): Promise<void> {
  if (d.proc.exitCode != null || d.proc.signalCode != null) return
  const exited = new Promise(resolve => d.proc.once('exit', resolve))
  d.proc.kill('SIGTERM')
  const t = setTimeout(() => { d.proc.kill('SIGKILL') }, 15_000)
  await exited
  clearTimeout(t)
}

/** GET a blob through the daemon's API with an origin, hashing the body as it streams. */
async function fetchThrough (d: DaemonProc, digest: string, origin: string): Promise<{ sha256: string, bytes: number }> {
  const url = `${d.api}/api/v1/blobs/${digest}?origin=${encodeURIComponent(origin)}`
  return await new Promise((resolve, reject) => {
    get(url, { headers: { authorization: `Bearer ${d.token}` } }, res => {
      if (res.statusCode !== 200) { reject(new Error(`GET blob: HTTP ${res.statusCode}`)); res.resume(); return }
      const h = createHash('sha256')
      let bytes = 0
      res.on('data', (c: Buffer) => { h.update(c); bytes += c.byteLength })
      res.on('end', () => { resolve({ sha256: `sha256:${h.digest('hex')}`, bytes }) })
      res.on('error', reject)
    }).on('error', reject)
  })
}

async function apiJson (d: DaemonProc, path: string): Promise<any> {
  const r = await fetch(`${d.api}${path}`, { headers: { authorization: `Bearer ${d.token}` } })
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`)
  return await r.json()
}

/** The upload phase: CLIENTS processes holding UPLOADS peers between them; resolves with their totals once all are done. */
async function runUploads (d: DaemonProc, digest: string, pieceSize: number, pieces: number, onConnected: () => void): Promise<{ ok: number, busy: number, errors: number, bytes: number }> {
  const per = Math.ceil(uploads / clients)
  const procs: Array<{ proc: ChildProcess, lines: AsyncIterator<string> }> = []
  for (let i = 0, seed = 0; seed < uploads; i++, seed += per) {
    const peers = Math.min(per, uploads - seed)
    const proc = spawn(process.execPath, [join(here, 'memory-peers.js'), JSON.stringify({ addr: d.addr, digest, pieceSize, pieces, peers, pipeline, seconds: uploadSeconds, seed })], { stdio: ['ignore', 'pipe', 'inherit'] })
    procs.push({ proc, lines: createInterface({ input: proc.stdout! })[Symbol.asyncIterator]() })
  }
  const next = async (p: typeof procs[number], event: string): Promise<any> => {
    for (;;) {
      const n = await p.lines.next()
      if (n.done === true) throw new Error(`upload client exited (code ${p.proc.exitCode}) before "${event}"`)
      const msg = JSON.parse(n.value)
      if (msg.event === event) return msg
    }
  }
  await Promise.all(procs.map(async p => await next(p, 'connected')))
  onConnected()
  const done = await Promise.all(procs.map(async p => await next(p, 'done')))
  for (const x of done) if (x.errors > 0) console.error(`upload client errors: ${JSON.stringify(x.errorNames)}`)
  return done.reduce((a, b) => ({ ok: a.ok + b.ok, busy: a.busy + b.busy, errors: a.errors + b.errors, bytes: a.bytes + b.bytes }), { ok: 0, busy: 0, errors: 0, bytes: 0 })
}

interface RunResult {
  limit: string
  fetchSeconds: number
  fetchMiBs: number
  uploads: { ok: number, busy: number, errors: number, MiBs: number }
  peakHwmMiB: number
  phases: PhasePeaks[]
  samples: Sample[]
}

async function runOne (work: string, limit: string, digest: string, originUrl: string, n: number): Promise<RunResult> {
  const dataDir = join(work, `data-${n}`)
  const runtimeDir = join(work, `run-${n}`)
  await mkdir(runtimeDir, { recursive: true })
  const d = await startDaemon(dataDir, runtimeDir, limit)
  let phase = 'idle'
  const sampler = startSampler(d.pid, d.pid === d.proc.pid ? undefined : d.proc.pid, `${d.api}/metrics`, sampleMs, () => phase)
  try {
    await new Promise(resolve => setTimeout(resolve, IDLE_MS))
    phase = 'fetch'
    const t0 = performance.now()
    const got = await fetchThrough(d, digest, originUrl)
    const fetchMs = performance.now() - t0
    if (got.sha256 !== digest) throw new Error(`fetched ${got.bytes} bytes with ${got.sha256}, expected ${digest}`)
    phase = 'settle'
    await new Promise(resolve => setTimeout(resolve, SETTLE_MS))
    const info = await apiJson(d, `/api/v1/blobs/${digest}/stat`)
    phase = 'connect'
    const t1 = performance.now()
    let t2 = t1
    const up = await runUploads(d, digest, info.pieceSize, Math.ceil(info.size / info.pieceSize), () => { phase = 'uploads'; t2 = performance.now() })
    const upMs = performance.now() - t2
    phase = 'end'
    const hwm = (await procMemory(d.pid)).hwm
    const samples = await sampler.stop()
    return {
      limit,
      fetchSeconds: Math.round(fetchMs) / 1000,
      fetchMiBs: Math.round(sizeMiB / (fetchMs / 1000) * 10) / 10,
      uploads: { ok: up.ok, busy: up.busy, errors: up.errors, MiBs: Math.round(up.bytes / MiB / (upMs / 1000) * 10) / 10 },
      peakHwmMiB: Math.round(hwm * 10) / 10,
      phases: ['idle', 'fetch', 'settle', 'uploads'].map(p => peaks(samples, p)),
      samples
    }
  } catch (err) {
    await sampler.stop()
    throw new Error(`${(err as Error).message}\ndaemon stderr: ${d.stderr()}`, { cause: err })
  } finally {
    await stopDaemon(d)
    await rm(dataDir, { recursive: true, force: true })
  }
}

const work = await mkdtemp(join(tmpdir(), 'starling-bench-memory-'))
let origin: ChildProcess | undefined
try {
  const blob = join(work, 'blob')
  const digest = await writeRandomFile(blob, sizeMiB * MiB)
  const started = await firstJsonLine([originMain, '--file', `/blob=${blob}`])
  origin = started.proc
  const originUrl = `${started.line.url as string}/blob`
  const results: RunResult[] = []
  const load = [loadavg()[0]]
  for (const [i, limit] of limits.entries()) {
    results.push(await runOne(work, limit, digest, originUrl, i))
    load.push(loadavg()[0])
  }

  console.log(`blob ${sizeMiB} MiB, ${uploads} uploads (${clients} client processes, ${pipeline} requests each), ${uploadSeconds} s; load average ${load.map(l => l.toFixed(1)).join(' → ')} (2 cores)`)
  console.log('limit      phase    peak RSS  RSS anon  heap used  heap total  ArrayBuffers  uploads max/mean  launcher anon')
  for (const r of results) {
    for (const p of r.phases.filter(x => x.phase === 'fetch' || x.phase === 'uploads')) {
      console.log(`${r.limit.padEnd(10)} ${p.phase.padEnd(8)} ${p.peakRssMiB.toFixed(0).padStart(5)} MiB ${p.peakRssAnonMiB.toFixed(0).padStart(5)} MiB ${p.peakHeapUsedMiB.toFixed(0).padStart(6)} MiB ${p.peakHeapTotalMiB.toFixed(0).padStart(7)} MiB ${p.peakArrayBuffersMiB.toFixed(0).padStart(9)} MiB  ${`${p.maxActiveUploads}/${p.meanActiveUploads}`.padEnd(16)}  ${Number.isNaN(p.peakLauncherAnonMiB) ? '-' : `${p.peakLauncherAnonMiB.toFixed(0)} MiB`}`)
    }
    console.log(`${r.limit.padEnd(10)} fetch ${r.fetchSeconds.toFixed(1)} s (${r.fetchMiBs} MiB/s); uploads ${r.uploads.MiBs} MiB/s, ${r.uploads.ok} pieces, ${r.uploads.busy} BUSY, ${r.uploads.errors} errors; VmHWM ${r.peakHwmMiB.toFixed(0)} MiB`)
  }
  const outDir = join(repoRoot, 'bench', 'results')
  await mkdir(outDir, { recursive: true })
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-')
  const meta = { date: new Date().toISOString(), command: `node dist/bench/memory.js ${argv.join(' ')}`.trim(), sizeMiB, uploads, clients, pipeline, uploadSeconds, sampleMs, daemonNodeOptions, load, node: process.version }
  await writeFile(join(outDir, `memory-${stamp}.json`), JSON.stringify({ ...meta, results }) + '\n')
  console.log(`results: bench/results/memory-${stamp}.json`)
} finally {
  origin?.kill()
  await rm(work, { recursive: true, force: true })
}
