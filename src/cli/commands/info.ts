import { formatBytes } from '../../daemon/size.js'
import { createClient } from '../client.js'
import { globals, print, type CliCommand } from '../context.js'

export const infoCommand: CliCommand = (program, ctx) => {
  program.command('info')
    .description('peer id, listen addresses (with /p2p/<id>), location, version, cache use')
    .action(async (_opts, cmd) => {
      const g = globals(cmd)
      const info = await createClient(g, ctx).json<any>('GET', '/api/v1/info')
      print(ctx, g, info, () => [
        `peer id:   ${info.peerId}`,
        `location:  ${info.location === '' ? '(none)' : info.location}`,
        `version:   ${info.version}`,
        `cache:     ${formatBytes(info.cache.bytes)} in ${info.cache.blobs} blobs (quota ${info.cache.quota == null ? 'none' : formatBytes(info.cache.quota)})`,
        `api:       ${info.api}`,
        `metrics:   ${info.metrics}`,
        ...(info.registry != null ? [`registry:  ${info.registry}`] : []),
        'addresses:',
        ...(info.addresses as string[]).map(a => `  ${a}`)
      ].join('\n'))
    })
}
