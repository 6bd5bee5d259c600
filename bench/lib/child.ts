/*
 * The child side of the orchestrator's IPC: a helper process calls `serve(handlers, info)` and then
 * answers `call` messages with `reply` messages. It exits when the orchestrator goes away (the IPC
 * channel closes), so a crashed orchestrator leaves no helper behind.
 */

export type Protocol = Record<string, { args: unknown; result: unknown }>;

export type Message =
  | { type: 'ready'; info: Record<string, unknown> }
  | { type: 'call'; id: number; cmd: string; args: unknown }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };

export type Handlers<P extends Protocol> = { [K in keyof P]: (args: P[K]['args']) => Promise<P[K]['result']> | P[K]['result'] };

export function serve<P extends Protocol>(handlers: Handlers<P>, info: Record<string, unknown> = {}): void {
  const send = (msg: Message): void => {
    if (process.connected) process.send?.(msg);
  };
  process.on('message', (raw: unknown) => {
    const msg = raw as Message;
    if (msg.type !== 'call') return;
    const handler = (handlers as Record<string, ((args: unknown) => unknown) | undefined>)[msg.cmd];
    if (!handler) {
      send({ type: 'reply', id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(msg.args))
      .then(
        (result) => send({ type: 'reply', id: msg.id, ok: true, result }),
        (error: unknown) =>
          send({ type: 'reply', id: msg.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', info });
}
