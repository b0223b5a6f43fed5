// Per-tenant git tokens: a tenant's GIT_TOKEN secret is its own default git token (sent only to
// BOXD_GIT_TOKEN_HOSTS, by the server, never into the box), so tenants stop sharing one identity; a tenant
// without it gets the server's BOXD_GIT_TOKEN (none here), and another tenant's secret is never used.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attack } from "../helpers/abuse-tally.js";
import { type GitServer, startGitServer } from "../helpers/git-server.js";
import { type Harness, startHarness } from "../helpers/harness.js";

const TOKEN = `ghp_${randomBytes(12).toString("hex")}`;
const REPO = "acme/private.git";

describe("per-tenant git tokens", () => {
  let srv: GitServer;
  let h: Harness;

  beforeAll(async () => {
    srv = await startGitServer({ token: TOKEN });
    srv.createRepo(REPO, { "README.md": "# private\n" });
    const host = new URL(srv.url).host;
    h = await startHarness({ env: { BOXD_GIT_TOKEN_HOSTS: host, BOXD_GIT_ALLOWED_HOSTS: host } });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    await srv?.close();
  });

  it("a tenant's GIT_TOKEN clones its private repository; without it, and for other tenants, it is refused", async () => {
    const box = await h.createBox({ name: "git-tenant", networkPolicy: { mode: "deny-all" } });
    const repo = `${srv.url}/${REPO}`;
    const before = await h.callErr("box_git_clone", { box: box.id, repo, directory: "a" });
    expect(before.code).toBe("UNAUTHENTICATED");
    await h.callOk("secret_set", { name: "GIT_TOKEN", value: TOKEN });
    const ok = await h.callOk<{ commit: string }>("box_git_clone", { box: box.id, repo, directory: "b" });
    expect(ok.commit).toMatch(/^[0-9a-f]{40}$/);
    const cfg = await h.callOk<{ stdout: string }>("box_exec", {
      box: box.id,
      command: "cat b/.git/config; env; ls -a b/.git",
    });
    expect(cfg.stdout).not.toContain(TOKEN);
    await attack("secrets-git", "tenant B clones with tenant A's GIT_TOKEN", async () => {
      const other = await h.services.boxes.create("tenant-b", { name: "git-b", networkPolicy: { mode: "deny-all" } });
      const containerId = h.services.boxes.mustGet(other.id).containerId as string;
      const ctx = { progress: () => {}, tenant: "tenant-b" };
      await expect(h.services.git.clone(containerId, { repo, directory: "c" }, ctx)).rejects.toMatchObject({
        code: "UNAUTHENTICATED",
      });
    });
  });
});
