/**
 * The frame of every console page: htmx and the stylesheet from the gateway itself (nothing from a
 * CDN), `hx-boost` so that links and forms swap the page without a reload (and still work without
 * JavaScript), and the navigation. htmx is configured for the console's Content-Security-Policy:
 * no eval, no inline styles or scripts.
 */
import { type Html, html } from './html.js';

export const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  historyCacheSize: 0,
});

export type Section = 'approvals' | 'decisions' | 'pins' | 'grants' | 'counters' | 'login' | 'landing';

const NAV: ReadonlyArray<[Section, string, string]> = [
  ['approvals', '/console', 'Approvals'],
  ['decisions', '/console/decisions', 'Decisions'],
  ['pins', '/console/pins', 'Tool pins'],
  ['grants', '/console/grants', 'Grants'],
  ['counters', '/console/counters', 'Counters'],
];

export interface PageOptions {
  title: string;
  section: Section;
  /** The CSRF token for this page's forms; absent on pages shown before login. */
  csrf?: string;
  /** Who is signed in (their admin account's name). */
  admin?: string;
  /** A notice at the top: what an action did, or why it could not. */
  notice?: { kind: 'ok' | 'error'; text: string } | undefined;
}

export function page(options: PageOptions, body: Html): Html {
  const signedIn = options.csrf !== undefined;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content="${HTMX_CONFIG}">
<title>${options.title} · Bastion gateway</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/htmx.min.js" defer></script>
</head>
<body hx-boost="true">
<header>
<a class="brand" href="${signedIn ? '/console' : '/'}">Bastion gateway</a>
${
  signedIn
    ? html`<nav>${NAV.map(
        ([section, href, label]) =>
          html`<a href="${href}"${section === options.section ? html` aria-current="page"` : ''}>${label}</a>`,
      )}</nav>
<form method="post" action="/console/logout" class="logout">${options.admin === undefined ? '' : html`<span class="who">Signed in as ${options.admin}</span> `}<input type="hidden" name="_csrf" value="${options.csrf}"><button type="submit">Log out</button></form>`
    : ''
}
</header>
<main>
<h1>${options.title}</h1>
${options.notice === undefined ? '' : html`<p class="notice ${options.notice.kind}" role="status">${options.notice.text}</p>`}
${body}
</main>
</body>
</html>`;
}

/** A relative time people read at a glance, with the exact time on hover. */
export function when(iso: string | undefined): Html {
  if (iso === undefined) return html``;
  return html`<time datetime="${iso}" title="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time>`;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
