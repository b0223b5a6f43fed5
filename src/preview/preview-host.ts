// Host-name routing of preview URLs: `<port>-<box>.<domain>` names one port of one box, where <box> is the
// box id without its "box_" prefix (a valid DNS label, so wildcard certificates and every browser accept it;
// the full id, with its underscore, is accepted too). Anything else is not a preview host.

/** One exposed port of one box, as a host name names it. */
export interface PreviewAddress {
  boxId: string;
  port: number;
}

const LABEL = /^([1-9][0-9]{0,4})-(?:box_)?([0-9a-z]{12})$/;

export class PreviewHosts {
  /** The parent domains routed, e.g. ["localhost"] or ["localhost", "preview.example.com"]. */
  private readonly domains: string[];

  constructor(
    domain: string,
    /** scheme://host[:port] of previews behind a TLS proxy, or "" (then http://<label>.<domain>:<port>). */
    private readonly publicUrl: string,
  ) {
    this.domains = [domain];
    if (publicUrl) this.domains.push(new URL(publicUrl).hostname);
  }

  /** The box and port a Host header names, or null (forged, foreign or malformed hosts). */
  parse(host: string | undefined): PreviewAddress | null {
    if (!host || host.length > 255) return null;
    // Drop the port (any: a proxy in front may listen elsewhere) and a trailing dot; names are caseless.
    const name = host
      .toLowerCase()
      .replace(/:\d{1,5}$/, "")
      .replace(/\.$/, "");
    for (const domain of this.domains) {
      if (!name.endsWith(`.${domain}`)) continue;
      const m = LABEL.exec(name.slice(0, -domain.length - 1));
      if (!m) return null;
      const port = Number(m[1]);
      if (port > 65535) return null;
      return { boxId: `box_${m[2]}`, port };
    }
    return null;
  }

  /** The URL of one exposed port, for a listener on `listenPort` (ignored behind a public URL). */
  url(a: PreviewAddress, listenPort: number): string {
    const label = `${a.port}-${a.boxId.replace(/^box_/, "")}`;
    if (this.publicUrl) {
      const u = new URL(this.publicUrl);
      return `${u.protocol}//${label}.${u.host}/`;
    }
    return `http://${label}.${this.domains[0]}:${listenPort}/`;
  }

  /** The scheme clients use (X-Forwarded-Proto, the cookie's Secure flag). */
  get scheme(): "http" | "https" {
    return this.publicUrl.startsWith("https:") ? "https" : "http";
  }
}
