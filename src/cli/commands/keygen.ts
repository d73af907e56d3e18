import { open } from 'node:fs/promises'
import { resolve } from 'node:path'
import { CliError, globals, print, type CliCommand } from '../context.js'

/** Owner read/write only: the key is the swarm's only password. */
const KEY_FILE_MODE = 0o600

export const keygenCommand: CliCommand = (program, ctx) => {
  program.command('keygen')
    .description('make a new swarm key (libp2p pnet swarm.key format) for --swarm-key; give the same file to every member')
    .argument('[file]', 'where to write it, mode 0600 (default: print it on stdout)')
    .option('--force', 'overwrite an existing file')
    .action(async (file: string | undefined, opts: { force?: boolean }, cmd) => {
      const g = globals(cmd)
      // Loaded here: the other commands need no swarm code.
      const { createSwarmKey } = await import('../../swarm/swarm-key.js')
      const key = createSwarmKey()
      if (file == null) {
        ctx.stdout.write(key)
        return
      }
      const path = resolve(file)
      let fh
      try {
        // 'wx' never follows or replaces what is there; with --force, the
        // old file's mode is tightened too (mode applies to new files only).
        fh = await open(path, opts.force === true ? 'w' : 'wx', KEY_FILE_MODE)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        throw new CliError(code === 'EEXIST' ? `${file} exists: pass --force to replace it` : `${file}: ${code ?? (err as Error).message}`)
      }
      try {
        await fh.chmod(KEY_FILE_MODE)
        await fh.writeFile(key)
        await fh.sync()
      } finally {
        await fh.close()
      }
      print(ctx, g, { path }, () => `wrote a new swarm key to ${path} (mode 0600): start every member with --swarm-key ${file}`)
    })
}
