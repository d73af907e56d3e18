import { version } from '../../daemon/version.js'
import { globals, print, type CliCommand } from '../context.js'

export const versionCommand: CliCommand = (program, ctx) => {
  program.command('version')
    .description('print the version of this CLI')
    .action((_opts, cmd) => {
      const g = globals(cmd)
      print(ctx, g, { version: version(), node: process.version }, () => `starling ${version()} (node ${process.version})`)
    })
}
