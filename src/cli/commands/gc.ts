import type { GcResult } from '../../api.js'
import { formatBytes } from '../../daemon/size.js'
import { createClient } from '../client.js'
import { globals, print, type CliCommand } from '../context.js'

export const gcCommand: CliCommand = (program, ctx) => {
  program.command('gc')
    .description('run cache garbage collection now (LRU eviction down to the quota)')
    .action(async (_opts, cmd) => {
      const g = globals(cmd)
      const r = await createClient(g, ctx).json<GcResult>('POST', '/api/v1/gc')
      print(ctx, g, r, () => `evicted ${r.evicted.length} blobs, freed ${formatBytes(r.freedBytes)}` +
        r.evicted.map(d => `\n  ${d}`).join(''))
    })
}
