import { createHash } from 'node:crypto';
import { Script } from 'node:vm';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DashboardPageError, HttpServer, NodeMetrics, assembleDashboardPage, loadDashboardPage, registerOperatorRoutes } from '../src/index.js';

const logger = pino({ level: 'silent' });
const hash = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
const between = (html: string, open: string, close: string): string => html.slice(html.indexOf(open) + open.length, html.indexOf(close));

describe('the status page', () => {
  it('inlines the style and the script and allows exactly them by hash', () => {
    const page = assembleDashboardPage({ html: '<head><!--hubha:style--></head><body><!--hubha:script--></body>', css: 'b{color:red}', js: 'console.log("$&")' });
    expect(page.html).toBe('<head><style>b{color:red}</style></head><body><script>console.log("$&")</script></body>');
    expect(page.contentSecurityPolicy).toContain(`script-src ${hash('console.log("$&")')}`);
    expect(page.contentSecurityPolicy).toContain(`style-src ${hash('b{color:red}')}`);
    expect(page.contentSecurityPolicy).toContain("default-src 'none'");
    expect(page.contentSecurityPolicy).toContain("connect-src 'self'");
  });

  it('refuses sources that would break out of their element or lack a marker', () => {
    const html = '<!--hubha:style--><!--hubha:script-->';
    expect(() => assembleDashboardPage({ html, css: '', js: 'x = "</SCRIPT>"' })).toThrow(DashboardPageError);
    expect(() => assembleDashboardPage({ html, css: '</style>', js: '' })).toThrow(DashboardPageError);
    expect(() => assembleDashboardPage({ html: '<!--hubha:script-->', css: '', js: '' })).toThrow(/hubha:style.*exactly once/);
    expect(() => assembleDashboardPage({ html: `${html}<!--hubha:script-->`, css: '', js: '' })).toThrow(/found 2/);
  });

  it('the shipped page: a script that parses, no external resource, the ids the tests and people rely on', async () => {
    const page = await loadDashboardPage();
    const script = between(page.html, '<script>', '</script>');
    const style = between(page.html, '<style>', '</style>');
    expect(() => new Script(script)).not.toThrow();
    expect(page.contentSecurityPolicy).toContain(hash(script));
    expect(page.contentSecurityPolicy).toContain(hash(style));
    expect(page.html).not.toMatch(/\b(src|href)=|https?:\/\//i);
    expect(style).not.toMatch(/@import|url\(/i);
    expect(page.html).not.toMatch(/\son[a-z]+=|\sstyle=/i);
    for (const id of ['ha-state', 'active-hub-name', 'active-hub-address', 'active-hub-vip', 'active-hub-epoch', 'active-hub-since', 'reasons', 'nodes', 'history', 'connection']) {
      expect(page.html).toContain(`data-testid="${id}"`);
    }
    expect(await loadDashboardPage()).toBe(page);
  });
});

describe('GET / and GET /metrics', () => {
  let server: HttpServer;
  beforeEach(async () => {
    server = await HttpServer.start({ listen: '127.0.0.1:0', logger });
    const metrics = new NodeMetrics(
      {
        id: 'n1',
        version: '0.1.0',
        raftStatus: () => ({ term: 7, leader: 'n1', commit: 3, applied: 3 }),
        cluster: () => Promise.reject(new Error('nothing applied')),
      },
      logger,
    );
    registerOperatorRoutes(server, metrics, logger);
  });
  afterEach(async () => {
    await server.close();
  });

  it('/ is the page as HTML under its policy; /metrics is Prometheus text', async () => {
    const page = await fetch(`http://${server.address()}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe((await loadDashboardPage()).contentSecurityPolicy);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(await page.text()).toBe((await loadDashboardPage()).html);

    const metrics = await fetch(`http://${server.address()}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toContain('# TYPE hubha_raft_term gauge\nhubha_raft_term 7\n');
    expect(text).toContain('hubha_status_up 0\n');
    expect((await fetch(`http://${server.address()}/index.html`)).status).toBe(404);
  });
});
