// Preview URLs as the tools see them: expose a box's port (idempotent: the same port again returns the same
// URL and credentials), list a box's exposures, unexpose (which revokes the credentials at once: the
// listener reads the exposure on every request). Exposures are rows in SQLite, so they survive restarts,
// and go with their box (the `deleted` event). Credentials stay retrievable by the box's tenant: exposing
// again must give back working ones, and whoever can call tools on the box controls the app anyway.
import { conflict } from "../errors.js";
import type { BoxRecord } from "../model/box.js";
import type { Exposure, PreviewAuth } from "../model/exposure.js";
import type { ExposureStore } from "../state/exposure-store.js";
import { newCredentials } from "./preview-auth.js";
import type { PreviewHosts } from "./preview-host.js";

export interface PreviewServiceDeps {
  exposures: ExposureStore;
  hosts: PreviewHosts;
  /** A box of the tenant (NOT_FOUND for other tenants' boxes and deleted ones). */
  resolve: (tenant: string, ref: string) => BoxRecord;
  /** The listener's port and why it is not running (src/preview/preview-listener.ts). */
  listener: { readonly port: number | null; readonly unavailableReason: string };
}

/** One exposed port as box_expose_port and box_list_exposed report it. */
export interface ExposureView {
  url: string;
  port: number;
  auth: PreviewAuth;
  token?: string;
  username?: string;
  password?: string;
  createdAt: string;
}

export class PreviewService {
  constructor(private readonly deps: PreviewServiceDeps) {}

  expose(
    tenant: string,
    ref: string,
    port: number,
    auth: PreviewAuth = "token",
  ): ExposureView & { boxId: string; created: boolean } {
    const box = this.deps.resolve(tenant, ref);
    const listenPort = this.listenPort();
    const existing = this.deps.exposures.get(box.id, port);
    if (existing && existing.auth !== auth) {
      throw conflict(
        `port ${port} of ${box.name} is already exposed with auth "${existing.auth}": box_unexpose_port it first to change its auth`,
      );
    }
    const held =
      existing ??
      this.deps.exposures.insertOrGet({
        boxId: box.id,
        port,
        auth,
        ...newCredentials(auth),
        createdAt: new Date().toISOString(),
      });
    return { ...this.view(held, listenPort), boxId: box.id, created: !existing };
  }

  list(tenant: string, ref: string): { boxId: string; exposed: ExposureView[] } {
    const box = this.deps.resolve(tenant, ref);
    const port = this.deps.listener.port ?? 0;
    return { boxId: box.id, exposed: this.deps.exposures.list(box.id).map((e) => this.view(e, port)) };
  }

  unexpose(tenant: string, ref: string, port: number): { boxId: string; port: number; removed: boolean } {
    const box = this.deps.resolve(tenant, ref);
    return { boxId: box.id, port, removed: this.deps.exposures.delete(box.id, port) };
  }

  /** The box is gone: so are its exposures (and with them every credential). */
  forget(boxId: string): void {
    this.deps.exposures.deleteBox(boxId);
  }

  private listenPort(): number {
    const port = this.deps.listener.port;
    if (port === null) throw conflict(this.deps.listener.unavailableReason);
    return port;
  }

  private view(e: Exposure, listenPort: number): ExposureView {
    const v: ExposureView = {
      url: this.deps.hosts.url({ boxId: e.boxId, port: e.port }, listenPort),
      port: e.port,
      auth: e.auth,
      createdAt: e.createdAt,
    };
    if (e.auth === "token" && e.secret) v.token = e.secret;
    if (e.auth === "basic" && e.secret) {
      v.username = e.username ?? "";
      v.password = e.secret;
    }
    return v;
  }
}
