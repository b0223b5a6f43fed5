// The web console in a real browser: Debian's Chromium driven by playwright-core (no browser download).
// Sign-in, a box made by an MCP client appearing live, its log updating live, pause, resume and delete;
// hostile text (a label, a log line) shown as text; another tenant sees nothing; the page runs under its
// strict CSP without a single violation. The screenshots in docs/screenshots are taken here.
import { existsSync } from "node:fs";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttp, type HttpClient, type HttpFixture, startHttp, TOKEN_A, TOKEN_B } from "./http-helpers.js";

const CHROMIUM = "/usr/lib/chromium/chromium";
const SHOTS = path.resolve(import.meta.dirname, "../../docs/screenshots");

describe("web console in Chromium", () => {
  let fx: HttpFixture;
  let alice: HttpClient;
  let bob: HttpClient;
  let browser: Browser;
  let base = "";
  const problems: string[] = [];

  /** A fresh browser context (its own cookies) whose CSP violations and script errors are recorded. */
  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    // (Strings: this project's TypeScript has no DOM types; the browser runs them as they are.)
    await page.addInitScript({
      content: `window.__csp = []; document.addEventListener("securitypolicyviolation",
        (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    return { context, page };
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.goto(`${base}/`);
    await page.getByLabel("Access token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Boxes" }).waitFor();
  }

  async function cspViolations(page: Page): Promise<string[]> {
    return page.evaluate<string[]>("window.__csp || []");
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run tools/test-deps.sh (Debian's chromium)`);
    if (!existsSync(path.resolve(import.meta.dirname, "../../dist/console/index.html"))) {
      throw new Error("dist/console is missing: run `npm run build` (npm test does it)");
    }
    // Usage read every second, so the usage charts have points within the test.
    fx = await startHttp({ BOXD_USAGE_SAMPLE_SECONDS: "1" });
    base = fx.url.replace(/\/mcp$/, "");
    alice = await connectHttp(fx.url, TOKEN_A);
    bob = await connectHttp(fx.url, TOKEN_B);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  afterAll(async () => {
    await browser?.close();
    await alice?.close();
    await bob?.close();
    await fx?.close();
  });

  it("refuses a wrong token with its reason, then signs in", async () => {
    const { context, page } = await newPage();
    await page.goto(`${base}/`);
    await page.getByLabel("Access token").fill("wrong-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("not valid");
    await page.getByLabel("Access token").fill(TOKEN_A);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Boxes" }).waitFor();
    expect(await page.getByTestId("tenant").textContent()).toContain("alice");
    // The session cookie is out of the page's reach.
    expect(await page.evaluate<string>("document.cookie")).toBe("");
    expect(await cspViolations(page)).toEqual([]);
    await context.close();
  });

  it("shows a new box live, its log live, hostile text as text; pause, resume and delete work", async () => {
    const { context, page } = await newPage();
    await signIn(page, TOKEN_A);
    const payload = "<img src=x onerror=window.__xss=1>";
    // A box name cannot carry it (names are [a-z0-9._-]); a label, a log line and a file name can.
    expect((await alice.callErr("box_create", { name: payload })).code).toBe("INVALID_ARGUMENT");
    const box = await alice.callOk<{ id: string }>("box_create", { name: "console-box", labels: { note: payload } });
    const bobs = await bob.callOk<{ id: string }>("box_create", { name: "bob-secret" });
    // It appears without a reload (the list's event stream).
    const link = page.getByRole("link", { name: "console-box", exact: true });
    await link.waitFor({ timeout: 20_000 });
    expect(await page.getByRole("link", { name: "bob-secret" }).count()).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, "console-boxes.png") });
    await link.click();
    await page.getByRole("heading", { level: 1, name: "console-box" }).waitFor();
    expect(await page.getByText(payload).count()).toBeGreaterThan(0); // the label, as text
    const log = page.getByRole("log", { name: "Box log" });
    await log.waitFor();
    const hostile = "<script>window.__xss=2</script>";
    const run = await alice.callOk<{ runId: string }>("box_exec", {
      box: box.id,
      command: `echo '${hostile}'; echo console-line-$((6*7)); echo oops >&2; exit 4`,
    });
    await log.getByText("console-line-42").first().waitFor({ timeout: 20_000 });
    expect(await log.getByText(hostile).count()).toBeGreaterThan(0);
    expect(await page.evaluate<unknown>("window.__xss")).toBeUndefined();
    // The run with its output and exit code.
    await page.getByRole("button", { name: `Output of ${run.runId}` }).click({ timeout: 20_000 });
    await expect.poll(() => page.getByTestId("run-exit").textContent(), { timeout: 20_000 }).toContain("exit 4");
    expect(await page.getByTestId("run-stdout").textContent()).toContain(hostile);
    expect(await page.getByTestId("run-stderr").textContent()).toContain("oops");
    expect(await page.evaluate<unknown>("window.__xss")).toBeUndefined();
    await page.screenshot({ path: path.join(SHOTS, "console-box.png") });

    await page.getByRole("button", { name: "Pause", exact: true }).click();
    await expect.poll(() => page.getByTestId("box-status").textContent(), { timeout: 30_000 }).toContain("paused");
    expect((await alice.callOk<{ status: string }>("box_get", { box: box.id })).status).toBe("paused");
    await page.getByRole("button", { name: "Resume", exact: true }).click();
    await expect.poll(() => page.getByTestId("box-status").textContent(), { timeout: 30_000 }).not.toContain("paused");

    await page.getByRole("button", { name: "Delete", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Delete this box?" });
    await dialog.waitFor();
    await page.screenshot({ path: path.join(SHOTS, "console-delete.png") });
    await dialog.getByRole("button", { name: "Delete box" }).click();
    await page.getByRole("heading", { level: 1, name: "Boxes" }).waitFor();
    expect((await alice.callErr("box_get", { box: box.id })).code).toBe("NOT_FOUND");
    expect((await bob.callOk<{ status: string }>("box_get", { box: bobs.id })).status).not.toBe("deleted");
    expect(await cspViolations(page)).toEqual([]);
    await context.close();
  });

  it("runs a terminal in the box (typing, Ctrl-C) and browses, shows and downloads its files", async () => {
    const box = await alice.callOk<{ id: string }>("box_create", { name: "term-box" });
    const fileName = "report <b>1</b>.txt".replace(/\//g, "-"); // a hostile name (no slash: one file)
    await alice.callOk("box_write_file", {
      box: box.id,
      path: fileName,
      content: "<script>window.__xss=3</script>\nline two\n",
    });
    const { context, page } = await newPage();
    await signIn(page, TOKEN_A);
    await page.getByRole("link", { name: "term-box", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "term-box" }).waitFor();

    // Files: the folder, the file as text, the download.
    const files = page.getByRole("table", { name: "Files in /workspace/home" });
    await files.getByRole("button", { name: fileName, exact: true }).click({ timeout: 20_000 });
    const view = page.getByTestId("file-text");
    await expect.poll(() => view.textContent(), { timeout: 20_000 }).toContain("<script>window.__xss=3</script>");
    expect(await page.evaluate<unknown>("window.__xss")).toBeUndefined();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: `Download ${fileName}` }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/report/);
    const chunks: Buffer[] = [];
    for await (const c of (await download.createReadStream()) as AsyncIterable<Buffer>) chunks.push(c);
    expect(Buffer.concat(chunks).toString()).toBe("<script>window.__xss=3</script>\nline two\n");

    // The terminal: a shell as boxuser; what it prints is read from the terminal's own buffer.
    await page.getByRole("button", { name: "Open terminal" }).click();
    await expect
      .poll(() => page.getByTestId("terminal-state").textContent(), { timeout: 30_000 })
      .toContain("Connected");
    const screen = () =>
      page.evaluate<string>(`(() => { const b = window.__boxdTerminal.buffer.active; const out = [];
        for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true)); return out.join("\\n"); })()`);
    await expect.poll(screen, { timeout: 20_000 }).toMatch(/\$ $/m);
    await page.getByRole("region", { name: "Terminal" }).click();
    await page.keyboard.type("echo term-$((6*7)) $(whoami)\n");
    await expect.poll(screen, { timeout: 20_000 }).toContain("term-42 boxuser");
    await page.keyboard.type("sleep 300\n");
    await page.waitForTimeout(800);
    await page.keyboard.press("Control+C");
    await page.keyboard.type("echo after-ctrl-c\n");
    await expect.poll(screen, { timeout: 20_000 }).toMatch(/^after-ctrl-c$/m);
    await page.screenshot({ path: path.join(SHOTS, "console-terminal.png") });
    await page.keyboard.type("exit 3\n");
    await expect.poll(() => page.getByTestId("terminal-state").textContent(), { timeout: 20_000 }).toContain("code 3");
    // Usage over time: the charts of a box up a few seconds (sampled every second here; the page loads
    // the samples when it opens, then every 30 s).
    await page.waitForTimeout(4000);
    await page.reload();
    await expect
      .poll(() => page.getByTestId("usage-cpu").getByRole("img").getAttribute("aria-label"), { timeout: 45_000 })
      .toMatch(/^CPU [\d.]+% now, peak [\d.]+%$/);
    expect(await page.getByTestId("usage-memory").getByRole("img").getAttribute("aria-label")).toMatch(
      /^Memory [\d.]+ MiB now/,
    );
    await expect
      .poll(async () => page.getByTestId("usage-table").getByRole("row").count(), { timeout: 30_000 })
      .toBeGreaterThan(4);
    await page
      .locator("section[aria-labelledby=usage-title]")
      .screenshot({ path: path.join(SHOTS, "console-usage.png") });
    expect(await cspViolations(page)).toEqual([]);
    await context.close();
  });

  it("shows another tenant none of them: not in its list, not by URL", async () => {
    const mine = await alice.callOk<{ id: string }>("box_create", { name: "alice-only" });
    const { context, page } = await newPage();
    await signIn(page, TOKEN_B);
    expect(await page.getByTestId("tenant").textContent()).toContain("bob");
    await page.getByRole("link", { name: "bob-secret", exact: true }).waitFor({ timeout: 20_000 });
    expect(await page.getByRole("link", { name: "alice-only" }).count()).toBe(0);
    await page.goto(`${base}/boxes/${mine.id}`);
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 20_000 }).toMatch(/no box/i);
    expect(await page.getByText("alice-only").count()).toBe(0);
    expect(await cspViolations(page)).toEqual([]);
    await context.close();
    expect(problems).toEqual([]);
  });
});
