import { createHash, type Hash } from 'node:crypto'

/**
 * Git's blob id: sha1 over `blob <size>\0` and the bytes. The Hub lists it
 * as `oid` for files kept in git, the only check it offers for them.
 */
export function createGitBlobHash (size: number): Hash {
  return createHash('sha1').update(`blob ${size}\0`)
}
