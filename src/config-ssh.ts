// The SSH gateway's settings (rows of config.ts's SETTINGS table, kept apart for its length): off unless a
// port is given (BOXD_SSH_PORT or `boxd serve --ssh`), on loopback unless told otherwise.
import { z } from "zod";

/** The port `boxd serve --ssh` uses when BOXD_SSH_PORT is not set. */
export const DEFAULT_SSH_PORT = 2222;

export const SSH_SETTINGS = {
  sshPort: {
    env: "BOXD_SSH_PORT",
    flag: "--ssh-port <port>",
    description: `Serve SSH into boxes on this port (\`ssh <box>@HOST -p PORT\`); unset: no SSH (\`boxd serve --ssh\` uses ${DEFAULT_SSH_PORT}); 0 picks a free port.`,
    schema: z.coerce.number().int().min(0).max(65535).optional(),
  },
  sshHost: {
    env: "BOXD_SSH_HOST",
    flag: "--ssh-host <host>",
    description: "Address the SSH gateway listens on. Default loopback only; anything else exposes it to the network.",
    schema: z.string().min(1).default("127.0.0.1"),
  },
  sshAuthorizedKeys: {
    env: "BOXD_SSH_AUTHORIZED_KEYS",
    flag: "--ssh-authorized-keys <path>",
    description:
      'OpenSSH authorized_keys file of keys that may sign in over SSH, each line starting with its tenant: tenant="alice" ssh-ed25519 AAAA... (read at start).',
    schema: z.string().default(""),
  },
};
