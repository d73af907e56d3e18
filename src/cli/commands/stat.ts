import type { BlobInfo } from '../../api.js'
import { createClient } from '../client.js'
import { CliError, globals, print, type CliCommand } from '../context.js'
import { blobLine } from './ls.js'

/** Canonical `sha256:<hex>` from user input (a digest or a CID). */
export async function digestArg (s: string): Promise<string> {
  if (/^sha256:[0-9a-f]{64}$/.test(s)) return s
  // CIDs need multiformats: loaded only when one is given, to keep start-up quick.
  const { parseDigest } = await import('../../content/index.js')
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
      const info = await createClient(g, ctx).json<BlobInfo & { pieceMap?: string }>('GET', `/api/v1/blobs/${await digestArg(digest)}/stat`)
      print(ctx, g, info, () => blobLine(info) + (info.pieceMap != null ? `\npiece map ${info.pieceMap}` : ''))
    })
}
