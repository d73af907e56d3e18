import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Readable } from 'node:stream'
import { createClient } from '../client.js'
import { CliError, globals, print, type CliCommand } from '../context.js'
import { digestArg } from './stat.js'

export const addCommand: CliCommand = (program, ctx) => {
  program.command('add')
    .description('import a file into the local store, announce it to the swarm, print its digest')
    .argument('<file>', 'file to add')
    .option('--digest <sha256:hex>', 'fail (and store nothing) unless the file has this digest')
    .option('--pin', 'never evict this blob')
    .option('--by-path', 'send only the path: the daemon reads the file itself (same host, saves a copy over the API)')
    .action(async (file: string, opts: { digest?: string, pin?: boolean, byPath?: boolean }, cmd) => {
      const g = globals(cmd)
      const client = createClient(g, ctx)
      const path = resolve(file)
      const st = await stat(path).catch((err: NodeJS.ErrnoException) => { throw new CliError(`${file}: ${err.code ?? err.message}`) })
      if (!st.isFile()) throw new CliError(`${file}: not a regular file`)
      const q = new URLSearchParams()
      if (opts.digest != null) q.set('digest', await digestArg(opts.digest))
      if (opts.pin === true) q.set('pin', '1')
      const res = opts.byPath === true
        ? await client.request('POST', `/api/v1/blobs?${q}`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path }) })
        : await client.request('POST', `/api/v1/blobs?${q}`, {
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(st.size) },
          body: Readable.toWeb(createReadStream(path, { highWaterMark: 1024 * 1024 })) as ReadableStream,
          duplex: 'half'
        } as RequestInit)
      const r = await res.json() as { digest: string, size: number }
      print(ctx, g, r, () => r.digest)
    })
}
