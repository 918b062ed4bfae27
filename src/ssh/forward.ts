/**
 * A local port forward (like `ssh -L 127.0.0.1:0:host:port`): how the
 * runner reaches the seed's K3s API, which is not exposed to the network.
 */
import net from 'node:net';
import type { Client } from 'ssh2';

export interface PortForward {
  /** The local port on 127.0.0.1. */
  readonly port: number;
  /** Where connections end up, as seen from the SSH server. */
  readonly remote: { host: string; port: number };
  close(): Promise<void>;
}

export async function openLocalForward(client: Client, host: string, port: number): Promise<PortForward> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.pause();
    client.forwardOut('127.0.0.1', sock.remotePort ?? 0, host, port, (err, stream) => {
      if (err) {
        sock.destroy();
        return;
      }
      stream.on('error', () => sock.destroy());
      stream.once('close', () => sock.destroy());
      sock.once('close', () => stream.destroy());
      sock.pipe(stream).pipe(sock);
      sock.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // The forward must not keep a CLI process alive on its own.
  server.unref();
  const addr = server.address() as net.AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port: addr.port,
    remote: { host, port },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      })),
  };
}
