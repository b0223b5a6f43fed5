// Who box code runs as, and where: the one place these facts live (the images create this user: see
// images/base/Dockerfile). A leaf module: every layer may import it, it imports nothing.

/** The box user (boxuser) as Docker's `uid:gid`; every process of a box's own runs as this user. */
export const BOX_USER = "1000:1000";
/** boxuser's home and every box's default working directory. */
export const BOX_HOME = "/workspace/home";
