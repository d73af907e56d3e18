import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'

export { writeRandomFile } from '../test/fixtures/random-file.js'

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
