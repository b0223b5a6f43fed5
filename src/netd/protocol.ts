// The channel between the boxd server and its network helper (netd: a container in the engine host's
// network namespace, see docs/ARCHITECTURE.md "Network policy"): JSON lines over the helper's attached
// stdin and stdout. The server asks (`id` + `op`), the helper answers (`re`); the helper asks the server
// for a box's rendered attachHeaders (`ask`), the server answers (`to`); the helper tells of denials.
import type { NetworkPolicy } from "../model/box.js";

/** One box as the helper needs it: where its traffic comes from and what it may do. */
export interface NetdBox {
  boxId: string;
  bridge: string;
  /** The box's address on its own network (the proxy's and the DNS gate's source check). */
  ip: string;
  policy: NetworkPolicy;
  /** The box has attachHeaders: its 80/443 traffic goes through the proxy whatever its policy allows. */
  intercept: boolean;
}

/** The egress CA's files (made and kept by the server in its data dir), for the helper to sign with. */
export interface NetdCa {
  cert: string;
  key: string;
  leafKey: string;
}

export interface NetdInit {
  instanceId: string;
  /** Configured resolvers; empty: the helper reads the engine host's own. */
  dnsServers: string[];
  ca: NetdCa | null;
  /** PEM certificates an intercepted host's own may chain to, beyond the helper's system store. */
  upstreamCa: string;
  boxes: NetdBox[];
}

export type NetdRequest =
  | { op: "init"; init: NetdInit }
  | { op: "apply"; box: NetdBox }
  | { op: "remove"; boxId: string; ip: string | null }
  | { op: "removeParents" }
  | { op: "rules" }
  | { op: "ping" };

/** What "init" answers: the ports the proxy and the DNS gate listen on, and the iptables in use. */
export interface NetdReady {
  ports: { http: number; tls: number; dns: number };
  backend: string;
  node: string;
}

/** A box's headers for one host, rendered by the server when a connection opens. */
export type RenderedHeaders = { headers: Record<string, string> } | { missing: string };

/** Helper -> server messages. */
export type NetdUp =
  | { t: "hello"; version: number }
  | { t: "reply"; re: number; ok: true; value?: unknown }
  | { t: "reply"; re: number; ok: false; error: string }
  | { t: "denied"; ip: string; host: string; why: string }
  | { t: "ask"; ask: number; ip: string; host: string }
  | { t: "log"; level: "debug" | "info" | "warn"; msg: string };

/** Server -> helper messages: requests, and answers to the helper's asks. */
export type NetdDown = ({ id: number } & NetdRequest) | { to: number; headers: RenderedHeaders | null };

export const NETD_PROTOCOL = 1;
/** Where the helper's program is copied in the container (its entry point is main.js there). */
export const NETD_DIR = "/opt/boxd-netd";
