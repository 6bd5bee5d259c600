/*
 * Loopback ports for tests: one that nothing listens on, and a plain TCP probe of a listener.
 */
import { type AddressInfo, connect, createServer } from 'node:net';

/** A loopback port that was free a moment ago: for a server to listen on, or a target nothing answers on. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Opens a plain TCP connection to `url`'s host and port: 'connected', 'timeout', or the error code (ECONNREFUSED once nothing listens). */
export function probeConnect(url: string, timeoutMs = 2_000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
  });
}
