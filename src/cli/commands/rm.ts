import { createClient } from '../client.js'
import { CliError, globals, print, type CliCommand } from '../context.js'
import { digestArg } from './stat.js'

export const rmCommand: CliCommand = (program, ctx) => {
  program.command('rm')
    .description('delete blobs from the local store')
    .argument('<digest...>', 'sha256:<hex> or CID')
    .action(async (digests: string[], _opts, cmd) => {
      const g = globals(cmd)
      const client = createClient(g, ctx)
      const results: Array<{ digest: string, deleted: boolean }> = []
      for (const d of digests) results.push(await client.json('DELETE', `/api/v1/blobs/${await digestArg(d)}`))
      print(ctx, g, results, () => results.map(r => `${r.deleted ? 'deleted' : 'not found'} ${r.digest}`).join('\n'))
      const missing = results.filter(r => !r.deleted)
      if (missing.length > 0) throw new CliError(`not in the store: ${missing.map(r => r.digest).join(', ')}`)
    })
}
