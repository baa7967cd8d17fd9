/**
 * The console's pages, rendered on the server from what ConsoleService returns. Every form posts
 * with the session's CSRF token and works without JavaScript; htmx (hx-boost) only spares the
 * reloads, and refreshes the lists that change on their own (pending approvals, the feed).
 */
import type { ApprovalView } from '../approvals/records.js';
import type { GrantListing } from '../grant-book.js';
import type { FeedItem } from './feed.js';
import { type Html, html } from './html.js';
import { json, type PageOptions, page, when } from './layout.js';
import type { CounterView, PinChange } from './service.js';

const hidden = (csrf: string) => html`<input type="hidden" name="_csrf" value="${csrf}">`;

function decisionForm(approval: ApprovalView, csrf: string): Html {
  const id = approval.id;
  return html`<form method="post" action="/console/approvals/${id}" class="decide">
${hidden(csrf)}
<label>Reason <input type="text" name="reason" id="reason-${id}" hx-preserve="true" maxlength="2000" placeholder="optional, kept in the audit log"></label>
<button type="submit" name="decision" value="approve" class="approve">Approve</button>
<button type="submit" name="decision" value="deny" class="deny">Deny</button>
</form>`;
}

function approvalCard(approval: ApprovalView, csrf: string): Html {
  return html`<article class="approval ${approval.status}" data-approval="${approval.id}">
<header><strong class="tool">${approval.tool}</strong> on <strong>${approval.server}</strong> for grant <strong>${approval.grant}</strong>
<span class="status">${approval.status}</span></header>
<p class="reason">${approval.reason} <code>${approval.rule}</code></p>
<pre class="arguments">${json(approval.arguments)}</pre>
<p class="meta">Asked ${when(approval.createdAt)} · ${approval.status === 'pending' ? 'expires' : 'valid until'} ${when(approval.expiresAt)} · approvers: ${approval.approvers.join(', ')}
${approval.decidedBy === undefined ? '' : html` · decided by <strong>${approval.decidedBy}</strong>${approval.decisionReason === undefined ? '' : html`: ${approval.decisionReason}`}`}</p>
${approval.status === 'pending' ? decisionForm(approval, csrf) : ''}
</article>`;
}

/** The pending approvals: refreshed in place every few seconds (a reason being typed is kept). */
export function pendingFragment(approvals: ReadonlyArray<ApprovalView>, csrf: string): Html {
  const pending = approvals.filter((a) => a.status === 'pending');
  return html`<section id="pending" hx-get="/console/fragments/pending" hx-trigger="every 2s" hx-swap="outerHTML">
${pending.length === 0 ? html`<p class="empty">No call is waiting for approval.</p>` : pending.map((a) => approvalCard(a, csrf))}
</section>`;
}

export function approvalsPage(
  approvals: ReadonlyArray<ApprovalView>,
  options: PageOptions & { csrf: string },
): Html {
  const decided = approvals.filter((a) => a.status !== 'pending').slice(0, 20);
  return page(
    options,
    html`<h2>Waiting</h2>
${pendingFragment(approvals, options.csrf)}
<h2>Recently decided</h2>
${decided.length === 0 ? html`<p class="empty">Nothing decided yet.</p>` : decided.map((a) => approvalCard(a, options.csrf))}`,
  );
}

export function approvalPage(approval: ApprovalView, options: PageOptions & { csrf: string }): Html {
  return page(options, approvalCard(approval, options.csrf));
}

export function feedRows(items: ReadonlyArray<FeedItem>): Html {
  return html`${items.map(
    ({ seq, entry }) => html`<tr data-seq="${seq}" class="${entry.decision}">
<td>${when(entry.time)}</td><td>${entry.method}</td><td>${entry.server}</td><td>${entry.tool}</td><td>${entry.grant ?? ''}</td>
<td class="decision">${entry.decision}</td><td><code>${entry.rule}</code></td><td>${entry.decidedBy ?? ''}</td><td>${entry.reason}</td></tr>`,
  )}`;
}

export function decisionsPage(items: ReadonlyArray<FeedItem>, options: PageOptions): Html {
  return page(
    options,
    html`<p>The latest decisions of this gateway process, newest first (arguments as the audit log redacts them). The list follows new ones as they happen.</p>
<table class="feed"><thead><tr><th>Time</th><th>What</th><th>Server</th><th>Tool</th><th>Grant</th><th>Decision</th><th>Rule</th><th>Decided by</th><th>Reason</th></tr></thead>
<tbody id="feed" hx-get="/console/fragments/decisions" hx-trigger="every 2s" hx-swap="innerHTML">${feedRows(items)}</tbody></table>`,
  );
}

function diffBlock(diff: string): Html {
  const lines = diff.split('\n').filter((l) => !l.startsWith('===') && l !== '');
  return html`<pre class="diff">${lines.map((line) => {
    const kind =
      line.startsWith('+++') || line.startsWith('---')
        ? 'file'
        : line.startsWith('+')
          ? 'add'
          : line.startsWith('-')
            ? 'del'
            : line.startsWith('@@')
              ? 'hunk'
              : 'same';
    return html`<span class="${kind}">${line}</span>`;
  })}</pre>`;
}

export function pinsPage(changes: ReadonlyArray<PinChange>, options: PageOptions & { csrf: string }): Html {
  return page(
    options,
    html`<p>Tool definitions the upstreams offer that differ from what was pinned (or are new). Agents do not see them, and calls to them are denied with <code>TOOL_CHANGED</code>, until they are accepted here or with <code>bastion-gateway pin --accept</code>.</p>
${
  changes.length === 0
    ? html`<p class="empty">Every tool matches its pin.</p>`
    : changes.map(
        (c) => html`<article class="pin" data-tool="${c.tool}">
<header><strong class="tool">${c.tool}</strong> on <strong>${c.server}</strong> <span class="status">${c.kind === 'new' ? 'new tool' : 'definition changed'}</span></header>
${c.renamedFrom === undefined ? '' : html`<p class="warning">Same definition as the pinned tool <strong>${c.renamedFrom}</strong>, which the upstream no longer lists: a rename.</p>`}
<p class="meta">First seen ${when(c.firstSeen)}</p>
${diffBlock(c.diff)}
<form method="post" action="/console/pins/accept">${hidden(options.csrf)}
<input type="hidden" name="server" value="${c.server}"><input type="hidden" name="tool" value="${c.tool}">
<button type="submit" class="approve">Accept this definition</button></form>
</article>`,
      )
}`,
  );
}

export function grantsPage(
  grants: ReadonlyArray<GrantListing>,
  servers: ReadonlyArray<string>,
  options: PageOptions & { csrf: string; created?: { label: string; token: string } },
): Html {
  const created = options.created;
  return page(
    options,
    html`${
      created === undefined
        ? ''
        : html`<section class="token" role="alert"><h2>Token for grant ${created.label}</h2>
<p>Copy it now: it is shown once, and only its SHA-256 is kept.</p><pre class="secret" id="new-token">${created.token}</pre></section>`
    }
<table class="grants"><thead><tr><th>Grant</th><th>Servers</th><th>Made in</th><th>Created</th><th>State</th><th></th></tr></thead><tbody>
${grants.map(
  (
    g,
  ) => html`<tr data-grant="${g.label}"><td>${g.label}</td><td>${g.servers.join(', ')}</td><td>${g.source === 'config' ? 'config file' : 'console'}</td>
<td>${when(g.createdAt)}${g.createdBy === undefined ? '' : html` by ${g.createdBy}`}</td>
<td>${g.revokedAt === undefined ? 'active' : html`revoked ${when(g.revokedAt)} by ${g.revokedBy}`}</td>
<td>${g.revokedAt === undefined ? html`<form method="post" action="/console/grants/${g.label}/revoke">${hidden(options.csrf)}<button type="submit" class="deny">Revoke</button></form>` : ''}</td></tr>`,
)}
</tbody></table>
<h2>New grant</h2>
<form method="post" action="/console/grants" class="new-grant">${hidden(options.csrf)}
<label>Label <input type="text" name="label" required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}"></label>
<fieldset><legend>Servers</legend>${servers.map((s) => html`<label><input type="checkbox" name="servers" value="${s}"> ${s}</label>`)}</fieldset>
<button type="submit">Create grant</button></form>`,
  );
}

export function countersPage(counters: ReadonlyArray<CounterView>, options: PageOptions): Html {
  return page(
    options,
    html`<p>Rate-limit counters of each grant in the current window (units of calls waiting for approval included).</p>
<table class="counters"><thead><tr><th>Grant</th><th>Server</th><th>Counter</th><th>Window</th><th>Used</th><th>Max</th></tr></thead><tbody>
${counters.map(
  (c) =>
    html`<tr><td>${c.grant}</td><td>${c.server}</td><td>${c.counter}</td><td>${c.window}</td><td>${c.count ?? 'n/a'}</td><td>${c.max}</td></tr>`,
)}
</tbody></table>`,
  );
}

export function loginPage(options: PageOptions & { next?: string }): Html {
  return page(
    options,
    html`<form method="post" action="/console/login" class="login">
<input type="hidden" name="next" value="${options.next ?? '/console'}">
<label>Admin token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
<p class="meta">The admin token is not a grant token: <code>bastion-gateway admin create</code> makes one.</p>
</form>`,
  );
}
