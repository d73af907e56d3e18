/**
 * A tiny server-sent-events reader for `/api/v1/events`: calls `onEvent`
 * for each `event:`/`data:` block until the signal aborts.
 */
export async function readEvents (body: ReadableStream<Uint8Array>, onEvent: (type: string, data: any) => void): Promise<void> {
  const decoder = new TextDecoder()
  let buf = ''
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true })
    let i: number
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i)
      buf = buf.slice(i + 2)
      let type = 'message'
      let data = ''
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) type = line.slice(7)
        else if (line.startsWith('data: ')) data += line.slice(6)
      }
      if (data === '') continue
      try { onEvent(type, JSON.parse(data)) } catch {}
    }
  }
}
