// Preview exposures (box_expose_port): a box's port reachable through the preview listener.

/** How a preview URL is guarded: a bearer token (the default), HTTP basic, or nothing (explicit). */
export const PREVIEW_AUTHS = ["token", "basic", "none"] as const;
export type PreviewAuth = (typeof PREVIEW_AUTHS)[number];

export interface Exposure {
  boxId: string;
  port: number;
  auth: PreviewAuth;
  /** basic: the user name; otherwise null. */
  username: string | null;
  /** token: the bearer token; basic: the password; none: null. */
  secret: string | null;
  createdAt: string;
}
