import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'

/** Writes `size` random bytes to `path` in 4 MiB chunks (never all in memory); returns its digest. */
export async function writeRandomFile (path: string, size: number): Promise<string> {
  const h = createHash('sha256')
  const out = createWriteStream(path)
  for (let off = 0; off < size; off += 4 * 1024 * 1024) {
    const chunk = randomBytes(Math.min(4 * 1024 * 1024, size - off))
    h.update(chunk)
    if (!out.write(chunk)) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => { err != null ? reject(err) : resolve() }))
  return `sha256:${h.digest('hex')}`
}

/** Peak resident set (VmHWM) of a live process, in MiB. */
export async function peakRssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const m = /VmHWM:\s+(\d+) kB/.exec(status)
  return m == null ? NaN : Number(m[1]) / 1024
}

/** Runs a node script and returns its first JSON line on stdout. */
export async function firstJsonLine (args: string[]): Promise<{ line: any, proc: ReturnType<typeof spawn> }> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<any>((resolve, reject) => {
    proc.once('exit', code => { reject(new Error(`${args.join(' ')} exited with ${code}`)) })
    createInterface({ input: proc.stdout! }).once('line', l => { resolve(JSON.parse(l)) })
  })
  return { line, proc }
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]
}

/** CPU seconds (user + system) a live process has used so far. */
export async function cpuSeconds (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in clock ticks (USER_HZ = 100)
}
