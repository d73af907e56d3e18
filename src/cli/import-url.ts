/**
 * `starling get URL` without `--digest`, through the daemon: the daemon
 * downloads the URL once to learn its digest (`POST /api/v1/import`), and
 * tells how far it got as it goes (NDJSON lines, src/daemon/import-progress.ts),
 * so the bar moves and the bytes are counted as the origin's.
 */
import type { ImportLine } from '../daemon/import-progress.js'
import type { ApiClient } from './client.js'
import { CliError } from './context.js'

const NDJSON = 'application/x-ndjson'

export interface ImportedUrl { digest: string, size: number }

export interface ImportInit {
  url: string
  headers: Record<string, string>
  signal: AbortSignal
  /** Bytes downloaded so far, and the size when the origin told it. */
  onProgress: (bytes: number, size: number | undefined) => void
}

export async function importUrl (client: ApiClient, r: ImportInit): Promise<ImportedUrl> {
  const res = await client.request('POST', '/api/v1/import', {
    signal: r.signal,
    headers: { 'content-type': 'application/json', accept: `${NDJSON}, application/json` },
    body: JSON.stringify({ url: r.url, headers: r.headers })
  })
  // A daemon from before progress lines answers one JSON object at the end.
  if (!(res.headers.get('content-type') ?? '').startsWith(NDJSON)) return await res.json() as ImportedUrl
  let size: number | undefined
  for await (const line of lines(res.body as unknown as AsyncIterable<Uint8Array>)) {
    const msg = JSON.parse(line) as ImportLine
    if (msg.type === 'start') {
      size = msg.size ?? undefined
      r.onProgress(0, size)
    } else if (msg.type === 'progress') {
      r.onProgress(msg.bytes, size)
    } else if (msg.type === 'done') {
      return { digest: msg.digest, size: msg.size }
    } else if (msg.type === 'error') {
      throw new CliError(msg.error.message)
    }
  }
  throw new CliError(`the daemon ended the import of ${r.url} without an answer`)
}

async function * lines (body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let buf = ''
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true })
    let i: number
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim()
      buf = buf.slice(i + 1)
      if (line !== '') yield line
    }
  }
}
