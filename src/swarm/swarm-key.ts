/**
 * The libp2p private-network key file (`swarm.key`, as go-libp2p and IPFS
 * write it): three lines, `/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex digits.
 * A node holding it talks only to nodes holding the same key: every byte on
 * the wire is XSalsa20-encrypted with it before Noise even starts.
 */
import { randomBytes } from 'node:crypto'
import { ConfigError } from '../errors.js'

const HEADER = '/key/swarm/psk/1.0.0/'
const CODEC = '/base16/'
const KEY_BYTES = 32

/** A new random key in the swarm.key format (with a final newline). */
export function createSwarmKey (): string {
  return `${HEADER}\n${CODEC}\n${randomBytes(KEY_BYTES).toString('hex')}\n`
}

/**
 * Checks a swarm.key file and returns it in the canonical form @libp2p/pnet
 * reads (it checks only the key's length, and lowercase hex). `where` names
 * the file in the error.
 */
export function parseSwarmKey (bytes: Uint8Array, where = 'swarm key'): Uint8Array {
  const lines = new TextDecoder().decode(bytes).split(/\r\n|\r|\n/).map(l => l.trim())
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  const [header, codec, key] = lines
  const fail = (why: string): never => {
    throw new ConfigError(`${where}: ${why}; expected three lines: ${HEADER}, ${CODEC} and 64 hex digits (make one with \`starling keygen\`)`)
  }
  if (header !== HEADER) fail(`first line is not ${HEADER}`)
  if (codec !== CODEC) fail(`only the ${CODEC} encoding is supported, got ${JSON.stringify(codec ?? '')}`)
  if (lines.length !== 3 || !/^[0-9a-fA-F]{64}$/.test(key ?? '')) fail('the key is not 64 hex digits')
  return new TextEncoder().encode(`${HEADER}\n${CODEC}\n${key.toLowerCase()}`)
}
