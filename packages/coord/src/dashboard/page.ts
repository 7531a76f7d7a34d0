import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * The status page served at GET /: one HTML document with its style and script inlined, so that
 * it needs nothing but this member (no CDN, no build step). Its sources are plain files, kept
 * apart so that they read as HTML, CSS and JavaScript; they are put together once per process.
 *
 * The Content-Security-Policy allows exactly that style and that script, by their SHA-256 hashes,
 * and fetches to this member only: even a hub name crafted as markup could not run in the page.
 */

/** packages/coord/assets/dashboard, from src/dashboard and from dist/dashboard alike. */
export const DASHBOARD_ASSETS_DIR = new URL('../../assets/dashboard/', import.meta.url);

const STYLE_MARKER = '<!--hubha:style-->';
const SCRIPT_MARKER = '<!--hubha:script-->';

export interface DashboardSources {
  readonly html: string;
  readonly css: string;
  readonly js: string;
}

export interface DashboardPage {
  readonly html: string;
  readonly contentSecurityPolicy: string;
}

export class DashboardPageError extends Error {
  override readonly name = 'DashboardPageError';
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

function placeOnce(html: string, marker: string, element: string): string {
  const parts = html.split(marker);
  if (parts.length !== 2) throw new DashboardPageError(`the page must hold ${marker} exactly once (found ${parts.length - 1})`);
  return `${parts[0]}${element}${parts[1]}`;
}

/** The page with its style and script inlined, and the policy that allows only them. */
export function assembleDashboardPage(sources: DashboardSources): DashboardPage {
  // Either would end its element early and turn the rest into markup.
  if (/<\/style/i.test(sources.css)) throw new DashboardPageError('the style must not contain "</style"');
  if (/<\/script/i.test(sources.js)) throw new DashboardPageError('the script must not contain "</script"');
  const html = placeOnce(placeOnce(sources.html, STYLE_MARKER, `<style>${sources.css}</style>`), SCRIPT_MARKER, `<script>${sources.js}</script>`);
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src ${sha256(sources.js)}`,
    `style-src ${sha256(sources.css)}`,
    "connect-src 'self'",
    "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, contentSecurityPolicy };
}

let loading: Promise<DashboardPage> | null = null;

/** Reads and assembles the page, once per process (again after a failure). */
export function loadDashboardPage(): Promise<DashboardPage> {
  loading ??= readAndAssemble().catch((err: unknown) => {
    loading = null;
    throw err;
  });
  return loading;
}

async function readAndAssemble(): Promise<DashboardPage> {
  const [html, css, js] = await Promise.all(['page.html', 'page.css', 'page.js'].map((name) => readFile(new URL(name, DASHBOARD_ASSETS_DIR), 'utf8')));
  return assembleDashboardPage({ html: html!, css: css!, js: js! });
}
