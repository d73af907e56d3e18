import { Level } from 'level'
import { decodePieceMap, encodePieceMap, type PieceMap } from '../content/index.js'

/** What level keeps per blob; held pieces and piece maps live under their own keys. */
export interface BlobRecord {
  size: number
  pieceSize: number
  complete: boolean
  createdAt: number
  lastAccess: number
  pinned: boolean
}

/**
 * Key layout (one database, binary values so piece digests cost 32 bytes):
 *   b!<hex>            JSON BlobRecord
 *   p!<hex>!<index36>  32-byte digest of a held piece of a partial blob
 *   m!<hex>            encoded piece map of a complete blob
 * Piece indexes are fixed-width so a range scan returns them in order.
 */
const REC = 'b!'
const PIECE = 'p!'
const MAP = 'm!'
const enc = new TextEncoder()
const dec = new TextDecoder()

function pieceKey (hex: string, index: number): string {
  return `${PIECE}${hex}!${index.toString(36).padStart(8, '0')}`
}

export type IndexOp = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

export class IndexDb {
  readonly #db: Level<string, Uint8Array>

  /** `cacheSize`, `writeBufferSize`: LevelDB's block cache and write buffer in bytes (its defaults, 8 and 4 MiB, when undefined). */
  constructor (location: string, memory: { cacheSize?: number, writeBufferSize?: number } = {}) {
    this.#db = new Level<string, Uint8Array>(location, {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
      ...(memory.cacheSize != null ? { cacheSize: memory.cacheSize } : {}),
      ...(memory.writeBufferSize != null ? { writeBufferSize: memory.writeBufferSize } : {})
    })
  }

  async open (): Promise<void> { await this.#db.open() }
  async close (): Promise<void> { await this.#db.close() }

  async * records (): AsyncGenerator<[string, BlobRecord]> {
    for await (const [k, v] of this.#db.iterator({ gt: REC, lt: `${REC}\xff` })) {
      yield [k.slice(REC.length), JSON.parse(dec.decode(v)) as BlobRecord]
    }
  }

  /** Every recorded held piece of every partial blob. */
  async * pieces (): AsyncGenerator<{ hex: string, index: number, digest: Uint8Array }> {
    for await (const [k, v] of this.#db.iterator({ gt: PIECE, lt: `${PIECE}\xff` })) {
      const [hex, idx] = k.slice(PIECE.length).split('!')
      yield { hex, index: parseInt(idx, 36), digest: Uint8Array.from(v) }
    }
  }

  async pieceMap (hex: string): Promise<PieceMap | undefined> {
    const v = await this.#db.get(`${MAP}${hex}`)
    if (v == null) return undefined
    const map = decodePieceMap(v)
    // level hands back Buffers; callers compare plain Uint8Arrays
    return { ...map, pieceDigests: map.pieceDigests.map(d => Uint8Array.from(d)) }
  }

  async write (ops: IndexOp[]): Promise<void> {
    if (ops.length > 0) await this.#db.batch(ops)
  }

  static putRecord (hex: string, rec: BlobRecord): IndexOp {
    return { type: 'put', key: `${REC}${hex}`, value: enc.encode(JSON.stringify(rec)) }
  }

  static delRecord (hex: string): IndexOp { return { type: 'del', key: `${REC}${hex}` } }
  static putPiece (hex: string, index: number, digest: Uint8Array): IndexOp {
    return { type: 'put', key: pieceKey(hex, index), value: digest }
  }

  static delPiece (hex: string, index: number): IndexOp { return { type: 'del', key: pieceKey(hex, index) } }
  static putMap (hex: string, map: PieceMap): IndexOp {
    return { type: 'put', key: `${MAP}${hex}`, value: encodePieceMap(map) }
  }

  static delMap (hex: string): IndexOp { return { type: 'del', key: `${MAP}${hex}` } }
}
