/**
 * The peer allowlist file: one peer id per line, `#` starts a comment,
 * blank lines ignored. The same file can go to every member (a node's own id
 * in it is harmless).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { ConfigError } from '../errors.js'

/** Peer ids in `text`, canonical and deduplicated; a line that is not a peer id is a ConfigError naming it. */
export function parseAllowPeers (text: string, where = 'allowPeers'): string[] {
  const out = new Set<string>()
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') return
    try {
      out.add(peerIdFromString(line).toString())
    } catch {
      throw new ConfigError(`${where} line ${i + 1}: not a peer id: ${JSON.stringify(line.slice(0, 80))}`)
    }
  })
  // An empty list would refuse every peer: surely a mistake, not a wish.
  if (out.size === 0) throw new ConfigError(`${where}: no peer ids in the list`)
  return [...out]
}
