import { chmod, mkdir, readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { ConfigError } from '../errors.js'

/**
 * Loads the node's Ed25519 key from `dir/identity.key`, creating it (mode
 * 0600) on first start, so the peer id survives restarts.
 */
export async function loadOrCreateIdentity (dir: string): Promise<PrivateKey> {
  const file = join(dir, 'identity.key')
  let bytes: Buffer | undefined
  try {
    bytes = await readFile(file)
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
  }
  if (bytes != null) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new ConfigError(`identity key ${file} is corrupt: delete it to create a new peer id`, { cause: err })
    }
  }
  await mkdir(dir, { recursive: true })
  const key = await generateKeyPair('Ed25519')
  const tmp = `${file}.tmp`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, file)
  return key
}
