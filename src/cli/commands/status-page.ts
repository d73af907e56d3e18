import { findApiToken } from '../../daemon/api-token.js'
import { STATUS_PATH } from '../../daemon/status-page/page.js'
import { apiBase, createClient } from '../client.js'
import { CliError, globals, print, type CliCommand } from '../context.js'

/**
 * Prints the status page's address with the API token in its fragment
 * (docs/status-page.md): the browser never sends a fragment to a server,
 * and the page moves the token into the tab's sessionStorage at once.
 */
export const statusPageCommand: CliCommand = (program, ctx) => {
  program.command('status-page')
    .description('print the address of the daemon\'s status page, with the API token the page needs')
    .action(async (_opts, cmd) => {
      const g = globals(cmd)
      // the same request the page makes first: a wrong token or a stopped daemon fails here, not in the browser
      await createClient(g, ctx).json('GET', '/api/v1/info')
      const base = apiBase(g, ctx)
      const token = await findApiToken(base, ctx.env)
      if (token == null) throw new CliError('no API token found (set STARLING_API_TOKEN, or STARLING_DATA_DIR to the daemon\'s data folder)')
      const url = `${base}${STATUS_PATH}#token=${token}`
      print(ctx, g, { url }, () => url)
    })
}
