/**
 * The `starling` command. Only parses, calls the daemon's API, prints
 * (docs/architecture.md). Each command lives in its own file under
 * commands/ and is registered from the list below.
 */
import { Command, CommanderError } from 'commander'
import { version } from '../daemon/version.js'
import { addCommand } from './commands/add.js'
import { containerdConfigCommand } from './commands/containerd-config.js'
import { preheatCommand } from './commands/preheat.js'
import { daemonCommand } from './commands/daemon.js'
import { gcCommand } from './commands/gc.js'
import { getCommand } from './commands/get.js'
import { infoCommand } from './commands/info.js'
import { keygenCommand } from './commands/keygen.js'
import { kubeLocationCommand } from './commands/kube-location.js'
import { lsCommand } from './commands/ls.js'
import { peersCommand } from './commands/peers.js'
import { rmCommand } from './commands/rm.js'
import { statCommand } from './commands/stat.js'
import { statusPageCommand } from './commands/status-page.js'
import { versionCommand } from './commands/version.js'
import type { CliCommand, CliContext } from './context.js'

const COMMANDS: CliCommand[] = [
  daemonCommand,
  getCommand,
  addCommand,
  infoCommand,
  lsCommand,
  statCommand,
  rmCommand,
  peersCommand,
  gcCommand,
  versionCommand,
  containerdConfigCommand,
  preheatCommand,
  keygenCommand,
  kubeLocationCommand,
  statusPageCommand
]

export function buildProgram (ctx: CliContext): Command {
  const program = new Command('starling')
    .description('move large immutable blobs between machines over a libp2p swarm')
    .version(version(), '-V, --version')
    .option('--api <host:port>', 'the daemon\'s local API (env STARLING_API; default 127.0.0.1:7483)')
    .option('--json', 'machine-readable output')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s)
    })
    .exitOverride()
  for (const add of COMMANDS) add(program, ctx)
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s) })
  return program
}

/**
 * Runs the CLI; resolves to the process exit code. Failures print one line
 * on stderr. Called without a context (from bin/starling.js) it ends the
 * process once the command is done and output is flushed: a finished
 * command must not linger on keep-alive sockets or stray timers of an
 * in-process node (`get --standalone`).
 */
export async function main (argv: string[], ctx?: CliContext): Promise<number> {
  const code = await run(argv, ctx ?? { stdout: process.stdout, stderr: process.stderr, env: process.env })
  if (ctx == null) {
    await new Promise<void>(resolve => { process.stdout.write('', () => { process.stderr.write('', () => { resolve() }) }) })
    process.exit(code)
  }
  return code
}

async function run (argv: string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx)
  try {
    await program.parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message (or the help/version text).
      return err.exitCode === 0 ? 0 : 2
    }
    const e = err as Error & { exitCode?: number }
    // an empty message: whoever failed has said why (a relaunched daemon, on the same stderr)
    if (e?.message !== '') ctx.stderr.write(`starling: ${e?.message ?? String(err)}\n`)
    if (e?.name === 'CliError') return e.exitCode ?? 1
    if (e?.name === 'ConfigError' || e?.name === 'InvalidDigestError') return 2
    if (process.env.STARLING_DEBUG != null) ctx.stderr.write(`${e?.stack ?? ''}\n`)
    return 1
  }
}
