import type { BlobInfo } from '../../api.js'
import { formatBytes } from '../../daemon/size.js'
import { createClient } from '../client.js'
import { globals, print, type CliCommand } from '../context.js'

export function blobLine (b: BlobInfo): string {
  const state = b.complete ? 'complete' : `partial ${b.piecesHeld}/${b.pieceCount}`
  return `${b.digest}  ${formatBytes(b.size).padStart(10)}  ${state}${b.pinned ? '  pinned' : ''}  last used ${new Date(b.lastAccess).toISOString()}`
}

export const lsCommand: CliCommand = (program, ctx) => {
  program.command('ls')
    .description('list blobs in the local store (complete and partial)')
    .action(async (_opts, cmd) => {
      const g = globals(cmd)
      const { blobs } = await createClient(g, ctx).json<{ blobs: BlobInfo[] }>('GET', '/api/v1/blobs')
      print(ctx, g, blobs, () => blobs.map(blobLine).join('\n'))
    })
}
