import { open, type FileHandle } from 'node:fs/promises'

interface Slot { fh: Promise<FileHandle>, refs: number, retired: boolean }

/**
 * One open file handle per partial blob while anyone uses it: many parallel
 * piece writes share it (positional writes need no seek lock), and readers
 * of a partial that gets completed meanwhile keep reading the renamed inode.
 */
export class FdPool {
  readonly #slots = new Map<string, Slot>()

  async use<T> (key: string, path: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    const { fh, release } = await this.take(key, path)
    try { return await fn(fh) } finally { await release() }
  }

  /** Takes a use of the shared handle; call `release` exactly once when done. */
  async take (key: string, path: string): Promise<{ fh: FileHandle, release: () => Promise<void> }> {
    let slot = this.#slots.get(key)
    if (slot == null) {
      const s: Slot = { fh: open(path, 'r+'), refs: 0, retired: false }
      slot = s
      this.#slots.set(key, s)
      // a failed open must not poison the key for the next caller
      s.fh.catch(() => { if (this.#slots.get(key) === s) this.#slots.delete(key) })
    }
    const taken = slot
    taken.refs++
    let fh: FileHandle
    try {
      fh = await taken.fh
    } catch (err) {
      taken.refs--
      throw err
    }
    let released = false
    return {
      fh,
      release: async () => {
        if (released) return
        released = true
        taken.refs--
        if (taken.refs === 0) await this.#close(key, taken)
      }
    }
  }

  /** The file moved or went away: later users open afresh; current users finish on the old handle. */
  async retire (key: string): Promise<void> {
    const slot = this.#slots.get(key)
    if (slot == null) return
    this.#slots.delete(key)
    slot.retired = true
    if (slot.refs === 0) await slot.fh.then(async fh => { await fh.close() }, () => {})
  }

  async closeAll (): Promise<void> {
    const keys = [...this.#slots.keys()]
    await Promise.all(keys.map(async k => { await this.retire(k) }))
  }

  async #close (key: string, slot: Slot): Promise<void> {
    if (this.#slots.get(key) === slot) this.#slots.delete(key)
    await slot.fh.then(async fh => { await fh.close() }, () => {})
  }
}
