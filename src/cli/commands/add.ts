import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Readable } from 'node:stream'
import { createClient, type ApiClient } from '../client.js'
import { CliError, globals, print, type CliCommand } from '../context.js'
import { digestArg } from './stat.js'

export const addCommand: CliCommand = (program, ctx) => {
  program.command('add')
    .description('import a file into the local store, announce it to the swarm, print its digest')
    .argument('<file>', 'file to add')
    .option('--digest <sha256:hex>', 'fail (and store nothing) unless the file has this digest')
    .option('--pin', 'never evict this blob')
    .option('--piece-map', 'print the CID of the blob\'s piece map on a second line (for `get --piece-map`; --json always has it)')
    .option('--by-path', 'send only the path: the daemon reads the file itself (same host, saves a copy over the API; needs allowFileImport on the daemon)')
    .action(async (file: string, opts: { digest?: string, pin?: boolean, byPath?: boolean, pieceMap?: boolean }, cmd) => {
      const g = globals(cmd)
      const client = createClient(g, ctx)
      const path = resolve(file)
      const st = await stat(path).catch((err: NodeJS.ErrnoException) => { throw new CliError(`${file}: ${err.code ?? err.message}`) })
      if (!st.isFile()) throw new CliError(`${file}: not a regular file`)
      const digest = opts.digest != null ? await digestArg(opts.digest) : undefined
      const r = opts.byPath === true
        ? await addByPath(client, path, { digest, pin: opts.pin })
        : await uploadFile(client, path, st.size, { digest, pin: opts.pin })
      // the digest alone on stdout by default: scripts read it
      print(ctx, g, r, () => opts.pieceMap === true && r.pieceMap != null ? `${r.digest}\n${r.pieceMap}` : r.digest)
    })
}

interface AddQuery { digest?: string, pin?: boolean, signal?: AbortSignal }

function query (o: AddQuery): URLSearchParams {
  const q = new URLSearchParams()
  if (o.digest != null) q.set('digest', o.digest)
  if (o.pin === true) q.set('pin', '1')
  return q
}

/**
 * Streams a file's bytes to the daemon. The default way to add: it works
 * whichever user or host the daemon runs as, and needs no `allowFileImport`
 * on the daemon, which reads no file for the caller.
 */
export async function uploadFile (client: ApiClient, path: string, size: number, o: AddQuery = {}): Promise<{ digest: string, size: number, pieceMap?: string }> {
  const res = await client.request('POST', `/api/v1/blobs?${query(o)}`, {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: Readable.toWeb(createReadStream(path, { highWaterMark: 1024 * 1024 })) as ReadableStream,
    duplex: 'half',
    signal: o.signal
  } as RequestInit)
  return await res.json() as { digest: string, size: number, pieceMap?: string }
}

/** `--by-path`: the daemon reads the file itself; it refuses unless its config has `allowFileImport: true`. */
async function addByPath (client: ApiClient, path: string, o: AddQuery): Promise<{ digest: string, size: number, pieceMap?: string }> {
  const res = await client.request('POST', `/api/v1/blobs?${query(o)}`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path }) })
  return await res.json() as { digest: string, size: number, pieceMap?: string }
}
