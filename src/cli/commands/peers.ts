import type { PeerInfo } from '../../api.js'
import { createClient } from '../client.js'
import { globals, print, type CliCommand } from '../context.js'

export const peersCommand: CliCommand = (program, ctx) => {
  program.command('peers')
    .description('connected peers: id, address, location, RTT, strikes')
    .action(async (_opts, cmd) => {
      const g = globals(cmd)
      const { peers } = await createClient(g, ctx).json<{ peers: PeerInfo[] }>('GET', '/api/v1/peers')
      print(ctx, g, peers, () => peers.length === 0
        ? '(no connected peers)'
        : peers.map(p => [p.id, p.addresses[0] ?? '', p.location ?? '-', p.rttMs == null ? '-' : `${Math.round(p.rttMs)}ms`,
          `strikes=${p.strikes}`, p.banned ? 'BANNED' : ''].join('  ').trimEnd()).join('\n'))
    })
}
