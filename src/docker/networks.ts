// Network operations: one bridge network per box, created with an explicit subnet from boxd's own pool
// (Docker's default pools hold only ~31 bridge networks).
import type Docker from "dockerode";
import type { Logger } from "../log.js";
import { asBoxdError, dockerStatus } from "./docker-errors.js";
import { labelFilter } from "./labels.js";

export interface NetworkSpec {
  name: string;
  subnet: string;
  gateway: string;
  labels: Record<string, string>;
  internal?: boolean;
  bridgeName?: string;
}

export interface NetworkSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  subnets: string[];
  created: string;
}

export class NetworkClient {
  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
  ) {}

  async create(spec: NetworkSpec): Promise<string> {
    try {
      const options: Record<string, string> = {
        "com.docker.network.bridge.enable_icc": "false",
      };
      if (spec.bridgeName) options["com.docker.network.bridge.name"] = spec.bridgeName;
      const net = await this.docker.createNetwork({
        Name: spec.name,
        Driver: "bridge",
        CheckDuplicate: true,
        Internal: spec.internal ?? false,
        Labels: spec.labels,
        Options: options,
        IPAM: { Driver: "default", Config: [{ Subnet: spec.subnet, Gateway: spec.gateway }] },
      });
      this.log.debug("network created", { name: spec.name, subnet: spec.subnet });
      return net.id;
    } catch (err) {
      throw asBoxdError(err, `create network ${spec.name}`);
    }
  }

  /** Removes a network; absent is fine. */
  async remove(idOrName: string): Promise<void> {
    try {
      await this.docker.getNetwork(idOrName).remove();
      this.log.debug("network removed", { network: idOrName });
    } catch (err) {
      if (dockerStatus(err) === 404) return;
      throw asBoxdError(err, `remove network ${idOrName}`);
    }
  }

  async list(labels: Record<string, string>): Promise<NetworkSummary[]> {
    try {
      const all = await this.docker.listNetworks({ filters: labelFilter(labels) });
      return all.map((n) => ({
        id: n.Id,
        name: n.Name,
        labels: n.Labels ?? {},
        subnets: (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? "").filter(Boolean),
        created: n.Created,
      }));
    } catch (err) {
      throw asBoxdError(err, "list networks");
    }
  }
}
