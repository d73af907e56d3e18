/**
 * Piece-map CIDs that image manifests carry for their layers: an OCI
 * descriptor may name the CID of its blob's piece map in the annotation
 * `org.starling.piece-map` (`starling add` prints it). The mirror reads
 * them from every manifest it serves and hands them to the fetch of the
 * blob, so each piece is checked on arrival (docs/security.md,
 * "Authenticated piece maps").
 */

/** The annotation key on an OCI descriptor. */
export const PIECE_MAP_ANNOTATION = 'org.starling.piece-map'

/** At most this many layer → CID hints are remembered (the oldest go first): a bound on what manifests can make the mirror keep. */
export const MAX_PIECE_MAP_HINTS = 10_000

const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/

interface Descriptor { digest?: unknown, annotations?: Record<string, unknown> }

/** Layer digest → piece-map CID, from a manifest's config and layers; nothing for anything else (an index, bad JSON). */
export function pieceMapsOf (manifest: Uint8Array): Map<string, string> {
  const found = new Map<string, string>()
  let m: { config?: Descriptor, layers?: unknown }
  try {
    m = JSON.parse(Buffer.from(manifest).toString('utf8'))
  } catch {
    return found
  }
  const descriptors: unknown[] = [m?.config, ...(Array.isArray(m?.layers) ? m.layers : [])]
  for (const d of descriptors as Array<Descriptor | undefined>) {
    const cid = d?.annotations?.[PIECE_MAP_ANNOTATION]
    if (typeof d?.digest === 'string' && SHA256_DIGEST.test(d.digest) && typeof cid === 'string' && cid.length > 0) found.set(d.digest, cid)
  }
  return found
}

/** The hints the mirror keeps, bounded, the most recently seen last. */
export class PieceMapHints {
  readonly #hints = new Map<string, string>()

  note (manifest: Uint8Array): void {
    for (const [digest, cid] of pieceMapsOf(manifest)) {
      this.#hints.delete(digest)
      this.#hints.set(digest, cid)
      if (this.#hints.size > MAX_PIECE_MAP_HINTS) this.#hints.delete(this.#hints.keys().next().value as string)
    }
  }

  get (digest: string): string | undefined {
    return this.#hints.get(digest)
  }
}
