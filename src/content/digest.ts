import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { InvalidDigestError } from '../errors.js'

/** Multicodec of raw bytes: a blob's CID names its bytes, not a DAG. */
export const RAW_CODEC = 0x55
export const SHA256_CODE = sha256Hasher.code

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/
/** Longest string tried as a CID: a CIDv1 raw sha2-256 is 59 characters in base32, 62 in base36, 50 in base58btc. */
export const MAX_CID_LENGTH = 100

/** A parsed `sha256:<hex>` OCI digest. */
export interface BlobDigest {
  /** `sha256:<hex>`, the canonical string form. */
  readonly digest: string
  /** The 64 hex characters. */
  readonly hex: string
  /** The 32 bytes of the sha256. */
  readonly bytes: Uint8Array
}

/** Parses `sha256:<hex>` (lowercase, 64 hex digits) or a raw sha2-256 CIDv1. */
export function parseDigest (input: string): BlobDigest {
  if (typeof input !== 'string') throw new InvalidDigestError('digest must be a string')
  const m = DIGEST_RE.exec(input)
  if (m != null) {
    const hex = m[1]
    return { digest: input, hex, bytes: Uint8Array.from(Buffer.from(hex, 'hex')) }
  }
  if (input.startsWith('sha256:')) {
    throw new InvalidDigestError(`invalid digest "${truncate(input)}": expected sha256: followed by 64 lowercase hex digits`)
  }
  // Base58 decoding is quadratic: a 16 KiB string took over a second (found
  // by test/fuzz). A CID of our shape is at most about 62 characters.
  if (input.length > MAX_CID_LENGTH) {
    throw new InvalidDigestError(`invalid digest "${truncate(input)}": ${input.length} characters is too long for a digest or a CID`)
  }
  let cid: CID
  try {
    cid = CID.parse(input)
  } catch {
    throw new InvalidDigestError(`invalid digest "${truncate(input)}": expected sha256:<64 hex digits> or a CIDv1 (raw, sha2-256)`)
  }
  return cidToDigest(cid)
}

export function isDigest (input: string): boolean {
  return DIGEST_RE.test(input)
}

export function digestFromBytes (bytes: Uint8Array): BlobDigest {
  if (bytes.length !== 32) throw new InvalidDigestError(`sha256 must be 32 bytes, got ${bytes.length}`)
  const hex = Buffer.from(bytes).toString('hex')
  return { digest: `sha256:${hex}`, hex, bytes: Uint8Array.from(bytes) }
}

/** CIDv1, codec raw, multihash sha2-256 of the whole blob: the same 32 bytes. */
export function digestToCid (digest: string | BlobDigest): CID {
  const d = typeof digest === 'string' ? parseDigest(digest) : digest
  return CID.createV1(RAW_CODEC, Digest.create(SHA256_CODE, d.bytes))
}

export function cidToDigest (cid: CID): BlobDigest {
  if (cid.version !== 1 || cid.code !== RAW_CODEC || cid.multihash.code !== SHA256_CODE) {
    throw new InvalidDigestError(`CID ${truncate(cid.toString())} is not CIDv1 raw sha2-256`)
  }
  return digestFromBytes(cid.multihash.digest)
}

function truncate (s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}
