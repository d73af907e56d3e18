import type { BlobInfo } from '../../api.js'
import { parseDigest } from '../../content/index.js'
import { createClient } from '../client.js'
import { CliError, globals, print, type CliCommand } from '../context.js'
import { blobLine } from './ls.js'

export function digestArg (s: string): string {
  try {
    return parseDigest(s).digest
  } catch (err) {
    throw new CliError((err as Error).message, 2)
  }
}

export const statCommand: CliCommand = (program, ctx) => {
  program.command('stat')
    .description('show one blob of the local store')
    .argument('<digest>', 'sha256:<hex> or CID')
    .action(async (digest: string, _opts, cmd) => {
      const g = globals(cmd)
      const info = await createClient(g, ctx).json<BlobInfo>('GET', `/api/v1/blobs/${digestArg(digest)}/stat`)
      print(ctx, g, info, () => blobLine(info))
    })
}
