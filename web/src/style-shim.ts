// xterm.js adds <style> elements for its theme and cell sizes, which the console's CSP (style-src 'self',
// no 'unsafe-inline') refuses. Installed before the terminal is made, this turns document.createElement
// ("style") into an inert <template> whose textContent goes to a constructable stylesheet adopted by the
// document: CSP does not govern those. Removing the element drops its sheet again.
let installed = false;

export function installStyleShim(): void {
  if (installed) return;
  installed = true;
  const original = Document.prototype.createElement;
  Document.prototype.createElement = function (this: Document, tag: string, options?: ElementCreationOptions) {
    if (String(tag).toLowerCase() !== "style") return original.call(this, tag, options);
    // An empty real <style> element is already reported as a violation; a <template> is never applied.
    const el = original.call(this, "template");
    const sheet = new CSSStyleSheet();
    this.adoptedStyleSheets = [...this.adoptedStyleSheets, sheet];
    Object.defineProperty(el, "textContent", {
      get: () => Array.from(sheet.cssRules, (r) => r.cssText).join("\n"),
      set: (v: string | null) => sheet.replaceSync(v ?? ""),
    });
    const detach = () => {
      this.adoptedStyleSheets = this.adoptedStyleSheets.filter((s) => s !== sheet);
    };
    const remove = el.remove.bind(el);
    el.remove = () => {
      detach();
      remove();
    };
    return el;
  } as typeof Document.prototype.createElement;
}
