import type { Command } from 'commander'

/** What commands print to and read from; tests and main() pass the process's. */
export interface CliContext {
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  env: NodeJS.ProcessEnv
}

/** Global options every command sees (`--api`, `--json`). */
export interface GlobalOptions {
  api?: string
  json?: boolean
}

/** One command: adds itself to the program. main.ts registers them from a list. */
export type CliCommand = (program: Command, ctx: CliContext) => void

/**
 * A failure the CLI reports as one line on stderr with this exit code
 * (1 runtime, 2 usage or configuration).
 */
export class CliError extends Error {
  override readonly name = 'CliError'
  constructor (message: string, readonly exitCode = 1) {
    super(message)
  }
}

export function globals (cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>()
}

/** Prints `value` as JSON with --json, else the human text. */
export function print (ctx: CliContext, g: GlobalOptions, value: unknown, human: () => string): void {
  if (g.json === true) ctx.stdout.write(JSON.stringify(value, null, 2) + '\n')
  else {
    const text = human()
    if (text !== '') ctx.stdout.write(text.endsWith('\n') ? text : text + '\n')
  }
}
