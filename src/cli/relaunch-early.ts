/**
 * `starling daemon --memory-limit SIZE` (or STARLING_MEMORY_LIMIT), seen
 * before the CLI is loaded: when the daemon must run in a child with the
 * limit's V8 and malloc settings (src/daemon/relaunch.ts), this process
 * starts it at once and only waits, holding what a bare Node holds (about
 * 6 MiB of its own) instead of the CLI, zod and yaml (25 MiB measured when
 * the relaunch came after the config was loaded). A limit set only in the
 * config file is found later, by the daemon command itself.
 */
import { parseSize } from '../daemon/size.js'
import { MIN_MEMORY_LIMIT, memoryBudget } from '../memory-budget.js'
import { relaunchPlan, runRelaunched } from '../daemon/relaunch.js'

const FLAG = '--memory-limit'

/** The limit a `daemon` command line gives by flag or environment (flags win, as in config.ts), or undefined. */
export function earlyMemoryLimit (argv: string[], env: NodeJS.ProcessEnv): number | undefined {
  const args = argv.slice(2)
  const at = args.indexOf('daemon')
  if (at < 0) return undefined
  let raw: string | undefined
  for (let i = at + 1; i < args.length; i++) {
    if (args[i] === FLAG) raw = args[i + 1]
    else if (args[i].startsWith(`${FLAG}=`)) raw = args[i].slice(FLAG.length + 1)
  }
  raw ??= env.STARLING_MEMORY_LIMIT
  if (raw == null || raw === '') return undefined
  try {
    const n = parseSize(raw)
    // a bad value is left to the CLI, which reports it with the others
    return n >= MIN_MEMORY_LIMIT ? n : undefined
  } catch {
    return undefined
  }
}

/** Runs the daemon in a child when the command line asks for a limit that needs one; its exit code, or undefined to go on here. */
export async function relaunchEarly (argv: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const limit = earlyMemoryLimit(argv, env)
  if (limit == null) return undefined
  const settings = memoryBudget(limit).process
  const plan = settings == null ? undefined : relaunchPlan(settings, { env, execArgv: process.execArgv })
  return plan == null ? undefined : await runRelaunched(plan, env, argv)
}
