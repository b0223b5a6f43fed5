// The addresses of this host's own interfaces, which nothing a box asks for may reach through the server
// (the egress proxy, server-side git): read at each check, since interfaces come and go.
import net from "node:net";
import os from "node:os";

/** Every IPv4 and IPv6 address of this host's interfaces, now. */
export function hostAddresses(): net.BlockList {
  const list = new net.BlockList();
  for (const infos of Object.values(os.networkInterfaces())) {
    for (const i of infos ?? []) {
      const address = i.address.replace(/%.*$/, ""); // an IPv6 link-local address's zone
      if (net.isIP(address)) list.addAddress(address, i.family === "IPv6" ? "ipv6" : "ipv4");
    }
  }
  return list;
}
