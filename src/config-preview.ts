// The settings of what browsers reach: preview URLs (box_expose_port) and the web console's own port for a
// stdio server. Rows of config.ts's SETTINGS table, kept here for config.ts's length. Only schemas:
// config.ts alone reads the environment.
import { z } from "zod";

export const PREVIEW_SETTINGS = {
  consolePort: {
    env: "BOXD_CONSOLE_PORT",
    flag: "--console-port <port>",
    description:
      "With `boxd serve` (stdio): also serve the web console on http://127.0.0.1:<port>/ (0 picks a free port), signed in with the local token (`boxd ssh-token` prints it). `serve --http` serves the console at / of its own port; unset: no console for stdio.",
    schema: z.coerce.number().int().min(0).max(65535).optional(),
  },
  previewPort: {
    env: "BOXD_PREVIEW_PORT",
    flag: "--preview-port <port>",
    description:
      'Port of the preview listener that serves box_expose_port URLs (http://<port>-<box>.<domain>:<this port>/); 0 picks a free port, "off" disables previews.',
    schema: z.union([z.literal("off"), z.coerce.number().int().min(0).max(65535)]).default(7078),
  },
  previewHost: {
    env: "BOXD_PREVIEW_HOST",
    flag: "--preview-host <host>",
    description:
      "Address the preview listener binds. Default loopback only; anything else exposes previews to the network (put a TLS proxy in front and set BOXD_PREVIEW_PUBLIC_URL).",
    schema: z.string().min(1).default("127.0.0.1"),
  },
  previewDomain: {
    env: "BOXD_PREVIEW_DOMAIN",
    flag: "--preview-domain <domain>",
    description:
      "Parent domain of preview host names (<port>-<box>.<domain>). The default, localhost, needs no DNS: browsers resolve every *.localhost name to loopback.",
    schema: z
      .string()
      .regex(
        /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i,
        "use a domain name such as preview.example.com",
      )
      .transform((s) => s.toLowerCase())
      .default("localhost"),
  },
  previewPublicUrl: {
    env: "BOXD_PREVIEW_PUBLIC_URL",
    flag: "--preview-public-url <url>",
    description:
      "Base URL of previews behind wildcard DNS and a TLS proxy, e.g. https://preview.example.com: URLs become https://<port>-<box>.preview.example.com/ (its host is routed too). Empty: http://<port>-<box>.<domain>:<preview port>/.",
    schema: z
      .string()
      .default("")
      .refine(
        (s) => s === "" || /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?\/?$/i.test(s),
        "use scheme://host[:port], e.g. https://preview.example.com",
      ),
  },
};
