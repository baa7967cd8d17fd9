/**
 * The page at `/`: that this is a Bastion gateway, whether its servers are served, where agents
 * connect, and the way to the console. It is public (whoever can reach the gateway may read it), so
 * it shows nothing secret: no grant, token, argument or approval.
 */
import { html } from './html.js';
import { page } from './layout.js';

export function landingPage(
  status: { servers: ReadonlyArray<{ name: string; state: string }> },
  consoleConfigured: boolean,
) {
  const stateText: Record<string, string> = {
    ok: 'served',
    unchecked: 'served (its tools not checked yet)',
    refused: 'refused: its policy does not match its tools',
  };
  return page(
    { title: 'Status', section: 'landing' },
    html`<p>This is a Bastion MCP gateway: agents reach the servers below through it, under a policy, and every decision is recorded.</p>
<table class="servers"><thead><tr><th>Server</th><th>State</th><th>Streamable HTTP</th><th>Legacy SSE</th></tr></thead><tbody>
${status.servers.map(
  (s) =>
    html`<tr><td>${s.name}</td><td class="state ${s.state}">${stateText[s.state] ?? s.state}</td><td><code>/servers/${s.name}/mcp</code></td><td><code>/servers/${s.name}/sse</code></td></tr>`,
)}
</tbody></table>
<p>Agents need a grant token (<code>Authorization: Bearer …</code>).</p>
${
  consoleConfigured
    ? html`<p><a class="button" href="/console">Open the console</a> to approve calls, accept changed tools and manage grants (admin token required).</p>`
    : html`<p>No console is configured (<code>"admin"</code> in the gateway config; <code>bastion-gateway admin create</code> makes a token).</p>`
}`,
  );
}
