// Labels on every Docker object boxd creates: what lets a restarted server find its own objects (and only
// its own: each data dir is one instance with its own id) and lets sweeps remove leftovers.

export const LABEL_MANAGED = "boxd.managed";
export const LABEL_INSTANCE = "boxd.instance";
export const LABEL_BOX_ID = "boxd.box-id";
export const LABEL_KIND = "boxd.kind";
export const LABEL_IMAGE_HASH = "boxd.image-hash";
export const LABEL_RUNTIME = "boxd.runtime";
/**
 * Image label: containers of the image run the resident executor as their main process. Version "2" is
 * privilege-separated (started as root with only CAP_SETUID/CAP_SETGID, every process it starts dropped to
 * the box user); "1" (older boxd) ran it as the box user, where box code could reach its channel.
 */
export const LABEL_EXECUTOR = "boxd.executor";
export const EXECUTOR_VERSION = "2";
/** Image label: the runtime's toolchain versions ("Node.js 20.19.2 (npm 9.2.0, ...)"), read at build time. */
export const LABEL_RUNTIME_VERSION = "boxd.runtime-version";
/** Where a runtime image's Dockerfile writes that text (the builder copies it into the label). */
export const RUNTIME_VERSION_FILE = "/etc/boxd/runtime-version";

/** dockerode's `filters` value selecting objects by exact label values. */
export function labelFilter(labels: Record<string, string>): { label: string[] } {
  return { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
}

export function instanceLabels(instanceId: string, extra: Record<string, string> = {}) {
  return { [LABEL_MANAGED]: "true", [LABEL_INSTANCE]: instanceId, ...extra };
}
