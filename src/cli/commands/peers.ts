import type { PeerInfo } from '../../api.js'
import { createClient } from '../client.js'
import { globals, print, type CliCommand } from '../context.js'

function lastReason (p: PeerInfo): string {
  // a daemon from before lastStrikes sends none
  const last = p.lastStrikes?.at(-1)
  return last == null ? '' : `last strike: ${last.reason}`
}

export const peersCommand: CliCommand = (program, ctx) => {
  program.command('peers')
    .description('connected and banned peers: id, address, location, RTT, strikes and the last strike reason')
    .action(async (_opts, cmd) => {
      const g = globals(cmd)
      const { peers } = await createClient(g, ctx).json<{ peers: PeerInfo[] }>('GET', '/api/v1/peers')
      print(ctx, g, peers, () => peers.length === 0
        ? '(no connected peers)'
        : peers.map(p => [p.id, p.addresses[0] ?? '-', p.location ?? '-', p.rttMs == null ? '-' : `${Math.round(p.rttMs)}ms`,
          `strikes=${p.strikes}`, ...(p.banned ? ['BANNED'] : []), lastReason(p)].join('  ').trimEnd()).join('\n'))
    })
}
