// Client-side routing with the History API: "/" (the box list) and "/boxes/<id>" (a box).
import { useEffect, useState } from "preact/hooks";

export type Route = { page: "list" } | { page: "box"; id: string } | { page: "notFound" };

export function parseRoute(pathname: string): Route {
  if (pathname === "/" || pathname === "") return { page: "list" };
  const m = /^\/boxes\/([^/]+)\/?$/.exec(pathname);
  if (m?.[1]) {
    try {
      return { page: "box", id: decodeURIComponent(m[1]) };
    } catch {
      return { page: "notFound" };
    }
  }
  return { page: "notFound" };
}

export function boxPath(id: string): string {
  return `/boxes/${encodeURIComponent(id)}`;
}

const listeners = new Set<() => void>();

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (path !== location.pathname) {
    if (opts.replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
  }
  for (const l of listeners) l();
}

export function usePathname(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return path;
}

/** A click handler for in-app links: plain left clicks navigate in place; modified clicks open normally. */
export function linkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.currentTarget as HTMLAnchorElement;
  if (a.target && a.target !== "_self") return;
  e.preventDefault();
  navigate(a.pathname);
}
