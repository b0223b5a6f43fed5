// Local port forwarding (`ssh -L 3000:localhost:3000 box@host`): a direct-tcpip channel reaches a port of
// the box itself and nothing else. The destination host must name the box (localhost, 127.0.0.1, its id or
// its name); the gateway connects to the box's address on its own bridge network, so a server in the box
// must listen on all interfaces (0.0.0.0), not only on the box's loopback. Any other host is refused: the
// gateway is no way into the server's network or the internet.
import net from "node:net";
import type { ServerChannel, TcpipRequestInfo } from "ssh2";

const CONNECT_TIMEOUT_MS = 10_000;

export interface ForwardTarget {
  /** The box's id and name (besides localhost and 127.0.0.1, the names a client may give). */
  names: string[];
  /** The box's address on its bridge, waking it; null when it has none. */
  address(): Promise<string | null>;
  log(message: string): void;
}

/** True when a requested destination host means the box itself. */
export function isBoxDestination(host: string, names: string[]): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "127.0.0.1" || names.some((n) => n.toLowerCase() === h);
}

export async function forwardToBox(
  accept: () => ServerChannel | undefined,
  reject: () => void,
  info: TcpipRequestInfo,
  target: ForwardTarget,
): Promise<void> {
  const port = info.destPort;
  if (!isBoxDestination(info.destIP, target.names) || !Number.isInteger(port) || port < 1 || port > 65535) {
    target.log(`SSH port forward to ${info.destIP}:${port} refused: only the box's own ports can be reached`);
    return reject();
  }
  const address = await target.address().catch(() => null);
  if (!address) return reject();
  const socket = net.connect({ host: address, port });
  socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy());
  socket.once("error", () => reject());
  socket.once("connect", () => {
    socket.setTimeout(0);
    const channel = accept();
    if (!channel) return socket.destroy();
    target.log(`SSH port forward to port ${port}`);
    socket.removeAllListeners("error");
    socket.on("error", () => channel.close());
    channel.on("error", () => socket.destroy());
    channel.once("close", () => socket.destroy());
    socket.once("close", () => channel.close());
    socket.pipe(channel);
    channel.pipe(socket);
  });
}
