/**
 * `POST /api/v1/import` for a caller that asks for progress
 * (`Accept: application/x-ndjson`): one JSON object per line while the
 * daemon downloads the URL — `start` (the size, when the origin tells it),
 * `progress` every PROGRESS_INTERVAL_MS, then `done` with the import's answer
 * or `error`. `starling get URL` without `--digest` draws its bar from these;
 * before, it showed `? 0 B/?` for the whole download.
 */
import type { ServerResponse } from 'node:http'
import type { StarlingNode } from '../api.js'
import type { Origin } from '../origin/types.js'

export const NDJSON = 'application/x-ndjson'
/** Often enough for a smooth bar (it redraws at 8 fps), rare enough to cost nothing. */
export const PROGRESS_INTERVAL_MS = 250

export type ImportLine =
  | { type: 'start', size: number | null }
  | { type: 'progress', bytes: number }
  | { type: 'done', digest: string, size: number, pieceMap: string }
  | { type: 'error', error: { name: string, message: string } }

export async function importWithProgress (node: StarlingNode, origin: Origin, res: ServerResponse, signal: AbortSignal): Promise<{ digest: string, size: number } | undefined> {
  // The size is for the bar only: an origin that will not tell it (or fails
  // here) still imports, and a real failure is reported by the read below.
  const size = await origin.stat({ signal }).then(i => i.size, () => null)
  res.writeHead(200, { 'content-type': NDJSON, 'cache-control': 'no-cache' })
  const send = (line: ImportLine): void => { res.write(JSON.stringify(line) + '\n') }
  send({ type: 'start', size })
  let bytes = 0
  let last = 0
  async function * counted (): AsyncGenerator<Uint8Array> {
    for await (const chunk of origin.read(undefined, { signal })) {
      bytes += chunk.byteLength
      const now = performance.now()
      if (now - last >= PROGRESS_INTERVAL_MS) {
        last = now
        send({ type: 'progress', bytes })
      }
      yield chunk
    }
  }
  try {
    const r = await node.add(counted(), { signal })
    send({ type: 'progress', bytes })
    send({ type: 'done', ...r })
    return r
  } catch (err) {
    const e = err as Error
    send({ type: 'error', error: { name: e.name ?? 'Error', message: e.message } })
    return undefined
  } finally {
    res.end()
  }
}
