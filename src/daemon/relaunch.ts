/**
 * The part of `--memory-limit` that only a new process can take: V8's heap
 * sizes (`--max-old-space-size`, `--max-semi-space-size`) are fixed when
 * the isolate is made, and glibc reads MALLOC_ARENA_MAX when the process
 * starts (v8.setFlagsFromString after start changes nothing: checked on
 * Node 20). So `starling daemon --memory-limit` runs the daemon in a child
 * started with them, unless this process already runs with a heap limit the
 * operator chose (docs/decisions.md, "The memory limit's V8 settings").
 */
import { spawn } from 'node:child_process'
import type { ProcessSettings } from '../memory-budget.js'

/** Set in the child's environment: it runs the daemon itself, whatever its heap. */
export const RELAUNCHED_ENV = 'STARLING_RELAUNCHED'
/** The child stops when its parent has gone (killed with SIGKILL, say); checked this often. */
export const PARENT_CHECK_MS = 1000
/** Exit code for a child killed by a signal, as shells report it. */
const SIGNAL_EXIT_BASE = 128

export interface Relaunch {
  /** node flags, in NODE_OPTIONS form (so a single-file binary takes them too) */
  nodeOptions: string[]
  env: Record<string, string>
}

/**
 * What the child needs, or undefined when this process should run the
 * daemon itself: it is that child already, or the operator set the V8 heap
 * (a flag of node or NODE_OPTIONS) and we do not second-guess it.
 */
export function relaunchPlan (settings: ProcessSettings, current: { env: NodeJS.ProcessEnv, execArgv: string[] }): Relaunch | undefined {
  if (current.env[RELAUNCHED_ENV] === '1') return undefined
  const given = [...current.execArgv, ...(current.env.NODE_OPTIONS ?? '').split(/\s+/)]
  if (given.some(a => /^--max[-_]old[-_]space[-_]size/.test(a))) return undefined
  return {
    nodeOptions: [`--max-old-space-size=${settings.maxOldSpaceMiB}`, `--max-semi-space-size=${settings.maxSemiSpaceMiB}`],
    env: { MALLOC_ARENA_MAX: String(settings.mallocArenas), MALLOC_MMAP_THRESHOLD_: String(settings.mmapThreshold), [RELAUNCHED_ENV]: '1' }
  }
}

/**
 * Runs this same command line again in a child with the plan's settings,
 * passes SIGINT/SIGTERM on to it, and resolves with the exit code to leave
 * with. stdio is shared, so logs and the terminal are the child's.
 */
export async function runRelaunched (plan: Relaunch, env: NodeJS.ProcessEnv, argv: string[] = process.argv, execArgv: string[] = process.execArgv): Promise<number> {
  const nodeOptions = [env.NODE_OPTIONS ?? '', ...plan.nodeOptions].join(' ').trim()
  // A single-file binary (Node SEA) is its own script: argv[1] is not a path to run.
  const script = await isSingleExecutable() ? [] : [argv[1]]
  const child = spawn(process.execPath, [...execArgv, ...script, ...argv.slice(2)], {
    stdio: 'inherit',
    // its own process group: a terminal's Ctrl-C reaches this process only and is passed on
    // once (the daemon ends at once on a second signal); a parent that dies is noticed by it
    detached: true,
    env: { ...env, ...plan.env, NODE_OPTIONS: nodeOptions }
  })
  const forward = (sig: NodeJS.Signals): void => { child.kill(sig) }
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (code, signal) => {
        resolve(code ?? SIGNAL_EXIT_BASE + signalNumber(signal))
      })
    })
  } finally {
    process.off('SIGINT', forward)
    process.off('SIGTERM', forward)
  }
}

/** In the child: calls `onGone` once if the parent that started it is gone. */
export function watchParent (onGone: () => void): () => void {
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid !== parent) { clearInterval(timer); onGone() }
  }, PARENT_CHECK_MS)
  timer.unref()
  return () => { clearInterval(timer) }
}

async function isSingleExecutable (): Promise<boolean> {
  try {
    const sea = await import('node:sea') as { isSea?: () => boolean }
    return sea.isSea?.() === true
  } catch {
    return false // node:sea is missing before Node 20.12: not a single executable either
  }
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }
function signalNumber (signal: NodeJS.Signals | null): number {
  return signal == null ? 0 : SIGNALS[signal] ?? 0
}
