// The console shell: the session (sign-in or the signed-in pages), the header and the routes.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, errorMessage, setUnauthorizedHandler } from "./api";
import { BoxList } from "./box-list";
import { BoxPage } from "./box-page";
import { linkClick, navigate, parseRoute, usePathname } from "./router";
import { SignIn } from "./sign-in";

type Session = { state: "checking" } | { state: "signedOut"; notice?: string } | { state: "signedIn"; tenant: string };

export function App() {
  const [session, setSession] = useState<Session>({ state: "checking" });

  useEffect(() => {
    setUnauthorizedHandler(() =>
      setSession((s) =>
        s.state === "signedIn" ? { state: "signedOut", notice: "Your session has ended. Sign in again." } : s,
      ),
    );
    api
      .session()
      .then((r) => setSession({ state: "signedIn", tenant: r?.tenant ?? "" }))
      .catch((e) =>
        setSession(
          e instanceof ApiError && e.status === 401
            ? { state: "signedOut" }
            : { state: "signedOut", notice: errorMessage(e) },
        ),
      );
  }, []);

  const onSignedIn = useCallback((tenant: string) => {
    setSession({ state: "signedIn", tenant });
    navigate("/");
  }, []);

  if (session.state === "checking") {
    return (
      <main id="main" class="page page-center">
        <p class="muted">Loading…</p>
      </main>
    );
  }
  if (session.state === "signedOut") return <SignIn notice={session.notice} onSignedIn={onSignedIn} />;
  return <SignedIn tenant={session.tenant} onSignedOut={() => setSession({ state: "signedOut" })} />;
}

function SignedIn({ tenant, onSignedOut }: { tenant: string; onSignedOut: () => void }) {
  const path = usePathname();
  const route = parseRoute(path);
  const [signOutError, setSignOutError] = useState("");
  const [signingOut, setSigningOut] = useState(false);

  const signOut = async () => {
    setSigningOut(true);
    setSignOutError("");
    try {
      await api.signOut();
      onSignedOut();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) setSignOutError(errorMessage(e));
    } finally {
      setSigningOut(false);
    }
  };

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/" onClick={linkClick}>
          boxd console
        </a>
        <nav aria-label="Main">
          <a href="/" onClick={linkClick} aria-current={route.page === "list" ? "page" : undefined}>
            Boxes
          </a>
        </nav>
        <span class="spacer" />
        {tenant ? (
          <span class="tenant">
            Tenant: <strong data-testid="tenant">{tenant}</strong>
          </span>
        ) : null}
        <button type="button" class="btn" onClick={signOut} disabled={signingOut}>
          Sign out
        </button>
      </header>
      {signOutError ? (
        <p class="banner banner-error" role="alert">
          {signOutError}
        </p>
      ) : null}
      <Main routeKey={path}>
        {route.page === "list" ? (
          <BoxList />
        ) : route.page === "box" ? (
          <BoxPage key={route.id} id={route.id} />
        ) : (
          <>
            <h1 tabIndex={-1}>Page not found</h1>
            <p>
              <a href="/" onClick={linkClick}>
                Back to the boxes
              </a>
            </p>
          </>
        )}
      </Main>
    </>
  );
}

/** The <main> landmark; on a route change, focus moves to the page's heading (for keyboard and screen readers). */
function Main({ routeKey, children }: { routeKey: string; children: ComponentChildren }) {
  const ref = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    ref.current?.querySelector<HTMLElement>("h1")?.focus();
    window.scrollTo(0, 0);
  }, [routeKey]);
  return (
    <main id="main" class="page" ref={ref}>
      {children}
    </main>
  );
}
