// The sign-in page: an access token exchanged for a session cookie (POST /console/api/session).
import { useState } from "preact/hooks";
import { api, errorMessage } from "./api";

export function SignIn({ notice, onSignedIn }: { notice?: string | undefined; onSignedIn: (tenant: string) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError("");
    try {
      const r = await api.signIn(token);
      let tenant = typeof r?.tenant === "string" ? r.tenant : "";
      if (!tenant) tenant = (await api.session().catch(() => null))?.tenant ?? "";
      setToken("");
      onSignedIn(tenant);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  return (
    <main id="main" class="page page-center">
      <form class="card signin" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to boxd</h1>
        {notice && !error ? (
          <p class="banner banner-info" role="status">
            {notice}
          </p>
        ) : null}
        <div class="field">
          <label for="token">Access token</label>
          <input
            id="token"
            name="token"
            type="password"
            autoComplete="current-password"
            required
            // biome-ignore lint/a11y/noAutofocus: the only field on the sign-in page
            autoFocus
            value={token}
            onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)}
            aria-describedby={error ? "signin-error" : undefined}
          />
        </div>
        {error ? (
          <p id="signin-error" class="banner banner-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="btn btn-primary" disabled={busy} aria-busy={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
