import type { BlobInfo, NodeStats } from '../../api.js'
import { formatBytes } from '../../daemon/size.js'
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

/** Bytes in by source, in the words of docs/no-scheduler.md (a location is a `--location` label). */
const SOURCE_NAMES: Array<[keyof NodeStats['bytesIn'], string]> = [
  ['origin', 'origin'],
  ['peer-local', 'same location'],
  ['peer-remote', 'other locations'],
  ['cache', 'already held']
]

/** The node's counters as lines: what came in from where, what went out. */
export function statsLines (s: NodeStats): string {
  const total = SOURCE_NAMES.reduce((n, [k]) => n + s.bytesIn[k], 0)
  const share = (n: number): string => total > 0 ? ` ${(100 * n / total).toFixed(1).padStart(5)} %` : ''
  return [
    'bytes in by source:',
    ...SOURCE_NAMES.map(([k, name]) => `  ${`${name}:`.padEnd(17)}${formatBytes(s.bytesIn[k]).padStart(10)}${share(s.bytesIn[k])}`),
    `bytes uploaded:    ${formatBytes(s.bytesUploaded).padStart(10)}`,
    `pieces:            ${s.piecesVerified} verified, ${s.piecesRejected} rejected`,
    `origin requests:   ${s.originRequests} (${s.originErrors} failed)`,
    `downloads:         ${s.activeDownloads} active`,
    `peers:             ${s.connectedPeers} connected, ${s.gossipPeers} in gossip`
  ].join('\n')
}

export const statCommand: CliCommand = (program, ctx) => {
  program.command('stat')
    .description('show the node\'s counters (bytes in by source: origin, same location, other locations), or one blob of the local store')
    .argument('[digest]', 'sha256:<hex> or CID')
    .action(async (digest: string | undefined, _opts, cmd) => {
      const g = globals(cmd)
      const client = createClient(g, ctx)
      if (digest == null) {
        const stats = await client.json<NodeStats>('GET', '/api/v1/stats')
        print(ctx, g, stats, () => statsLines(stats))
        return
      }
      const info = await client.json<BlobInfo & { pieceMap?: string }>('GET', `/api/v1/blobs/${await digestArg(digest)}/stat`)
      print(ctx, g, info, () => blobLine(info) + (info.pieceMap != null ? `\npiece map ${info.pieceMap}` : ''))
    })
}
