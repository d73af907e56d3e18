/**
 * bench/compare's four runners. Each gets the same blob, N and origin cap,
 * starts its own origin process (so the byte count is its own), and
 * reports the time until all N nodes hold verified bytes, origin bytes ÷
 * blob, and CPU seconds and peak RSS per node. Everything listens on
 * 127.0.0.1; every wait is bounded by ctx.timeoutMs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { createInterface } from 'node:readline'
import { loopbackAddr, startNodeProcess, type NodeProcess } from '../test/fixtures/swarm.js'
import { cpuSeconds } from './util.js'
import { figuresOf, firstLine, freePort, HELIA_DIR, needCommands, nodeFigures, prepareHelia, sha256File, startOrigin, waitUntil, type RunContext, type RunResult } from './compare-tools.js'

/** opentracker loads its whitelist in a thread of its own after start: an announce before that is refused for 2 minutes. */
const TRACKER_START_MS = 1000

type Runner = (ctx: RunContext, base: RunResult) => Promise<RunResult>

function killAll (procs: ChildProcess[]): void {
  for (const p of procs) if (p.exitCode == null && p.signalCode == null) p.kill('SIGKILL')
}

/** N `curl`s from the origin at once, each followed by `sha256sum` (verified bytes); CPU and RSS from /usr/bin/time. */
export const runHttp: Runner = async (ctx, base) => {
  const why = needCommands({ curl: 'curl', '/usr/bin/time': 'time', sha256sum: 'coreutils' })
  if (why != null) return { ...base, unavailable: why }
  const origin = await startOrigin(ctx)
  try {
    const t0 = performance.now()
    const runs = Array.from({ length: ctx.nodes }, async (_, i) => {
      const out = join(ctx.dir, `http-${i}`)
      const tf = `${out}.time`
      const p = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', tf, 'sh', '-c', 'curl -sSf -o "$1" "$2" && sha256sum "$1"', 'sh', out, `${origin.url}/blob`], { stdio: ['ignore', 'pipe', 'inherit'] })
      const timer = setTimeout(() => { p.kill('SIGKILL') }, ctx.timeoutMs)
      let stdout = ''
      p.stdout.on('data', d => { stdout += String(d) })
      const code = await new Promise<number | null>(resolve => p.once('exit', resolve))
      clearTimeout(timer)
      const ms = performance.now() - t0
      if (code !== 0 || `sha256:${stdout.split(' ')[0]}` !== ctx.digest) throw new Error(`curl ${i} failed (exit ${code}): ${stdout.slice(0, 200)}`)
      const [u, s, kb] = (await readFile(tf, 'utf8')).trim().split('\n').at(-1)!.split(' ').map(Number)
      return { ms, cpu: u + s, rss: kb / 1024 }
    })
    const done = await Promise.all(runs)
    const seconds = Math.max(...done.map(d => d.ms)) / 1000
    return { ...base, seconds, originRatio: await origin.bytesSent() / ctx.size, ...figuresOf(done.map(d => d.cpu), done.map(d => d.rss)) }
  } finally { origin.close() }
}

/**
 * BitTorrent: opentracker on loopback, a .torrent made by mktorrent, N
 * aria2c. One of them (the seed) has the origin as its web seed (BEP 19)
 * and so is fed by it; the others know only the tracker. aria2 checks every
 * piece's SHA-1; a node is done when aria2 says the download completed
 * (--on-bt-download-complete); every file's sha256 is checked afterwards.
 */
export const runAria2: Runner = async (ctx, base) => {
  const why = needCommands({ aria2c: 'aria2', opentracker: 'opentracker', mktorrent: 'mktorrent' })
  if (why != null) return { ...base, unavailable: why }
  const procs: ChildProcess[] = []
  const origin = await startOrigin(ctx)
  try {
    const tport = await freePort()
    const announce = `http://127.0.0.1:${tport}/announce`
    const bt = join(ctx.dir, 'bt')
    await mkdir(bt, { recursive: true })
    const seedTorrent = join(bt, 'seed.torrent')
    const leechTorrent = join(bt, 'leech.torrent')
    // the web seed (url-list) is outside the info dict: both torrents have one info hash
    for (const [t, extra] of [[seedTorrent, ['-w', `${origin.url}/blob`]], [leechTorrent, []]] as const) {
      const r = spawnSync('mktorrent', ['-a', announce, ...extra, '-o', t, ctx.file], { stdio: 'ignore' })
      if (r.status !== 0) return { ...base, error: `mktorrent failed (exit ${r.status})` }
    }
    // Debian's opentracker serves whitelisted torrents only
    const hash = /Info Hash: ([0-9a-f]{40})/.exec(spawnSync('aria2c', ['-S', seedTorrent], { encoding: 'utf8' }).stdout)?.[1]
    if (hash == null) return { ...base, error: 'could not read the info hash (aria2c -S)' }
    await writeFile(join(bt, 'whitelist'), `${hash}\n`)
    // it chroots into -d (default: its cwd) before it reads the list: a path relative to bt/ works either way
    procs.push(spawn('opentracker', ['-i', '127.0.0.1', '-p', String(tport), '-P', String(tport), '-d', bt, '-w', 'whitelist'], { cwd: bt, stdio: 'ignore' }))
    await new Promise(resolve => setTimeout(resolve, TRACKER_START_MS))
    const hook = join(bt, 'done.sh')
    await writeFile(hook, '#!/bin/sh\ntouch "$3.done"\n')
    await chmod(hook, 0o755)
    const name = basename(ctx.file)
    const dirs: string[] = []
    for (let i = 0; i < ctx.nodes; i++) {
      const d = join(bt, `n${i}`)
      await mkdir(d, { recursive: true })
      dirs.push(d)
      procs.push(spawn('aria2c', [i === 0 ? seedTorrent : leechTorrent, `--dir=${d}`, `--listen-port=${await freePort()}`,
        '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--disable-ipv6=true',
        // keep seeding until the bench ends (aria2 stops at whichever bound comes first)
        '--seed-ratio=1000', '--seed-time=600', '--file-allocation=none', '--bt-max-peers=0', '--summary-interval=0',
        '--console-log-level=error', `--log=${d}.log`, '--log-level=notice', `--on-bt-download-complete=${hook}`], { stdio: 'ignore' }))
    }
    const aria = procs.slice(1)
    const cpu0 = await Promise.all(aria.map(async p => await cpuSeconds(p.pid!)))
    const t0 = performance.now()
    const ok = await waitUntil(() => dirs.every(d => existsSync(join(d, `${name}.done`))), ctx.timeoutMs)
    const seconds = (performance.now() - t0) / 1000
    const figures = await nodeFigures(aria.map(p => p.pid!), cpu0)
    const originRatio = await origin.bytesSent() / ctx.size
    killAll(procs)
    if (!ok) return { ...base, error: `not all done after ${ctx.timeoutMs / 1000} s`, originRatio, ...figures }
    for (const d of dirs) if (await sha256File(join(d, name)) !== ctx.digest) return { ...base, error: `${d}: wrong sha256` }
    return { ...base, seconds, originRatio, ...figures }
  } finally { killAll(procs); origin.close() }
}

interface Peer { proc: ChildProcess, addr: string, call: (cmd: Record<string, unknown>) => Promise<any> }

async function startHeliaPeer (dir: string): Promise<Peer> {
  const proc = spawn(process.execPath, [join(HELIA_DIR, 'helia-peer.mjs'), dir], { cwd: HELIA_DIR, stdio: ['pipe', 'pipe', 'inherit'] })
  const { addr } = JSON.parse(await firstLine(proc, 60_000)) as { addr: string }
  const waiting = new Map<number, (m: any) => void>()
  createInterface({ input: proc.stdout! }).on('line', l => { try { const m = JSON.parse(l); waiting.get(m.id)?.(m); waiting.delete(m.id) } catch {} })
  let id = 0
  const call = async (cmd: Record<string, unknown>): Promise<any> => await new Promise(resolve => {
    const n = ++id
    waiting.set(n, resolve)
    proc.stdin!.write(JSON.stringify({ id: n, ...cmd }) + '\n')
  })
  return { proc, addr, call }
}

/**
 * Helia (bitswap over libp2p, the same TCP + noise + yamux as ours): the
 * seed, one of the N, fetches the blob from the origin and adds it
 * (unixfs); the others, connected to it and to each other, `cat` its CID.
 * A UnixFS DAG's root CID exists only once the bytes were added, so the
 * others start when the seed's import ends. Bitswap checks every block
 * against its CID; the sha256 of each copy is compared too.
 */
export const runHelia = (benchSrc: string): Runner => async (ctx, base) => {
  const why = await prepareHelia(benchSrc)
  if (why != null) return { ...base, unavailable: why }
  const origin = await startOrigin(ctx)
  const peers: Peer[] = []
  try {
    for (let i = 0; i < ctx.nodes; i++) peers.push(await startHeliaPeer(join(ctx.dir, `helia-${i}`)))
    for (let i = 1; i < peers.length; i++) {
      const r = await peers[i].call({ cmd: 'dial', addrs: peers.slice(0, i).map(p => p.addr) })
      if (!r.ok) return { ...base, error: `helia dial: ${r.error}` }
    }
    const cpu0 = await Promise.all(peers.map(async p => await cpuSeconds(p.proc.pid!)))
    const t0 = performance.now()
    const run = (async () => {
      const imp = await peers[0].call({ cmd: 'import', url: `${origin.url}/blob` })
      if (!imp.ok) throw new Error(`helia import: ${imp.error}`)
      const cats = await Promise.all(peers.slice(1).map(async (p, i) => await p.call({ cmd: 'cat', cid: imp.cid, out: join(ctx.dir, `helia-out-${i}`) })))
      const bad = cats.find(c => !c.ok || c.sha256 !== ctx.digest)
      if (bad != null) throw new Error(`helia cat: ${bad.error ?? bad.sha256}`)
    })()
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([run, new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`not all done after ${ctx.timeoutMs / 1000} s`)) }, ctx.timeoutMs) })]).finally(() => { clearTimeout(timer) })
    const seconds = (performance.now() - t0) / 1000
    const figures = await nodeFigures(peers.map(p => p.proc.pid!), cpu0)
    return { ...base, seconds, originRatio: await origin.bytesSent() / ctx.size, ...figures }
  } catch (err) {
    return { ...base, error: (err as Error).message }
  } finally {
    killAll(peers.map(p => p.proc))
    origin.close()
  }
}

/** Starling: N node processes (test/fixtures/node-main.ts) fetch with the origin given, at once; done when the store checked the sha256. */
export const runStarling: Runner = async (ctx, base) => {
  const origin = await startOrigin(ctx)
  const nodes: NodeProcess[] = []
  try {
    const first = await startNodeProcess({ dataDir: join(ctx.dir, 'st0'), listen: ['/ip4/127.0.0.1/tcp/0'] })
    nodes.push(first)
    nodes.push(...await Promise.all(Array.from({ length: ctx.nodes - 1 }, async (_, i) =>
      await startNodeProcess({ dataDir: join(ctx.dir, `st${i + 1}`), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [loopbackAddr(first)] }, 120_000))))
    // a fleet asks for a blob once it is up (bench/swarm waits for quiet; a fixed pause is enough at N <= 10)
    await new Promise(resolve => setTimeout(resolve, 3000))
    const cpu0 = await Promise.all(nodes.map(async n => await cpuSeconds(n.proc.pid!)))
    const t0 = performance.now()
    const replies = await Promise.all(nodes.map(async n => await n.call('fetch', { digest: ctx.digest, origin: `${origin.url}/blob`, read: false, pieceEvents: false }, ctx.timeoutMs).catch((err: Error) => ({ ok: false, error: { message: err.message } }))))
    const seconds = (performance.now() - t0) / 1000
    const figures = await nodeFigures(nodes.map(n => n.proc.pid!), cpu0)
    const bad = replies.find(r => !r.ok || r.sha256 !== ctx.digest)
    const originRatio = await origin.bytesSent() / ctx.size
    if (bad != null) return { ...base, error: `fetch failed: ${JSON.stringify(bad.error ?? bad.sha256)}`, originRatio, ...figures }
    return { ...base, seconds, originRatio, ...figures }
  } finally {
    await Promise.all(nodes.map(async n => { await n.kill() }))
    origin.close()
  }
}
