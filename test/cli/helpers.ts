/**
 * Real daemons for CLI tests: `node bin/starling.js daemon ...` as separate
 * OS processes (from the tsc build in dist/, as `npm test` builds first),
 * and the CLI run the same way.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { realpathSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BIN = join(ROOT, 'bin', 'starling.js')

export interface DaemonProcess {
  dataDir: string
  api: string
  peerId: string
  addresses: string[]
  proc: ChildProcess
  logs: any[]
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

export async function tempDir (prefix = 'starling-cli-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}

export async function removeDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

/** Which `starling` to run (default: this checkout's bin/starling.js), and its environment and folder. */
export interface BinOptions { bin?: string, env?: NodeJS.ProcessEnv, cwd?: string }

/** A bin that is (or links to) a `.js` file runs under this Node; anything else (the single-file binary, docs/deploy.md) is executed itself. */
function command (bin = BIN): [string, string[]] {
  return realpathSync(bin).endsWith('.js') ? [process.execPath, [bin]] : [bin, []]
}

/** Starts a daemon and resolves once it logs "daemon ready". */
export async function startDaemonProcess (dataDir: string, args: string[] = [], timeoutMs = 30_000, options: BinOptions = {}): Promise<DaemonProcess> {
  const [file, pre] = command(options.bin)
  const proc = spawn(file, [...pre, 'daemon', '--data-dir', dataDir, '--api', '127.0.0.1:0',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'info', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env, cwd: options.cwd })
  const logs: any[] = []
  let tail = ''
  const exited = new Promise<number | null>(resolve => proc.once('exit', code => { resolve(code) }))
  const ready = await new Promise<any>((resolve, reject) => {
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`daemon not ready in ${timeoutMs} ms: ${tail}`)) }, timeoutMs)
    proc.once('exit', code => { clearTimeout(t); reject(new Error(`daemon exited with ${code}: ${tail}`)) })
    createInterface({ input: proc.stderr! }).on('line', line => {
      tail = (tail + line + '\n').slice(-3000)
      let msg: any
      try { msg = JSON.parse(line) } catch { return }
      logs.push(msg)
      if (msg.msg === 'daemon ready') { clearTimeout(t); resolve(msg) }
    })
  })
  return {
    dataDir,
    api: String(ready.api).replace('http://', ''),
    peerId: ready.peerId,
    addresses: ready.addresses,
    proc,
    logs,
    async stop (signal = 'SIGTERM') {
      if (proc.exitCode != null || proc.signalCode != null) return proc.exitCode
      proc.kill(signal)
      const t = setTimeout(() => { proc.kill('SIGKILL') }, 10_000)
      const code = await exited
      clearTimeout(t)
      return code
    }
  }
}

export interface CliResult { code: number, stdout: string, stderr: string, ms: number }

/** Runs `starling ...` as a process; never rejects on a non-zero exit. */
export async function runCli (args: string[], options: BinOptions & { timeoutMs?: number } = {}): Promise<CliResult> {
  const t0 = performance.now()
  return await new Promise(resolve => {
    const [file, pre] = command(options.bin)
    execFile(file, [...pre, ...args], {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      timeout: options.timeoutMs ?? 60_000,
      maxBuffer: 64 * 1024 * 1024
    }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof (err as any).code === 'number' ? (err as any).code : 1
      resolve({ code, stdout, stderr, ms: performance.now() - t0 })
    })
  })
}

/** Polls /readyz until it answers 200. */
export async function waitReady (api: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const res = await fetch(`http://${api}/readyz`).catch(() => undefined)
    if (res?.status === 200) return
    if (Date.now() > end) throw new Error(`${api} not ready: ${await res?.text()}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

/** Prometheus text → { 'name{labels}': value }. Throws on a line that is not valid exposition format. */
export function parsePrometheus (text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})?) (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$/.exec(line)
    if (m == null) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`)
    out.set(m[1], m[2] === '+Inf' ? Infinity : Number(m[2]))
  }
  return out
}

export async function metrics (api: string): Promise<Map<string, number>> {
  return parsePrometheus(await (await fetch(`http://${api}/metrics`)).text())
}

export function bytesReceived (m: Map<string, number>, source?: string): number {
  let n = 0
  for (const [k, v] of m) {
    if (!k.startsWith('starling_bytes_received_total{')) continue
    if (source == null || k === `starling_bytes_received_total{source="${source}"}`) n += v
  }
  return n
}
