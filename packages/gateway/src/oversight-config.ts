/**
 * The config's oversight keys (issue 12): `admin` (who may use the console and its JSON API),
 * `approvals` (the webhook) and `pins` (the lock file). Kept apart from config.ts, which composes
 * them into the one schema and calls `resolveOversight` with the rest of the document.
 *
 * `admin` is one admin (`{ "tokenSha256", "name"? }`, what `bastion-gateway admin create` prints)
 * or several (`{ "accounts": [{ "name", "tokenSha256" }, ...] }`), each with a token of their own,
 * so that the audit rows say which person decided and one person's token can be withdrawn alone.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Problem } from './policy/problems.js';

/** Who decided, in audit rows, when the single-admin form gives no name. */
export const DEFAULT_ADMIN_NAME = 'admin';

const adminToken = z
  .string()
  .regex(/^[0-9a-f]{64}$/, { error: 'expected 64 lowercase hex digits (bastion-gateway admin create)' })
  .describe('SHA-256 of an admin token (the console and its JSON API), hex. Not a grant token.');

const adminName = z.string().min(1).max(64);

/** The zod fields of `admin`, `approvals` and `pins`; `url` is config.ts's http(s) URL schema. */
export function oversightConfigFields(url: z.ZodURL) {
  return {
    admin: z
      .strictObject({
        tokenSha256: adminToken
          .optional()
          .describe('The one admin\'s token digest (or "accounts" for several admins).'),
        name: adminName
          .optional()
          .describe(
            `Who the one admin is in audit rows ("approved by <name>"); default "${DEFAULT_ADMIN_NAME}".`,
          ),
        accounts: z
          .array(
            z.strictObject({
              name: adminName.describe('Who this admin is in audit rows.'),
              tokenSha256: adminToken,
            }),
          )
          .min(1)
          .optional()
          .describe(
            'Several admins, each with a token of their own (bastion-gateway admin create --name NAME); ' +
              'instead of "tokenSha256" and "name".',
          ),
        url: url
          .optional()
          .describe(
            'The gateway as people reach it (e.g. behind a proxy); console links given to agents start with it. ' +
              'Default: the address it listens on.',
          ),
      })
      .optional()
      .describe(
        'The console at /console and its JSON API. Absent: no console, and nobody can approve there.',
      ),
    approvals: z
      .strictObject({
        webhook: z
          .strictObject({
            url,
            secret: z.string().min(16).describe(
              // biome-ignore lint/suspicious/noTemplateCurlyInString: "${NAME}" is the documented placeholder syntax.
              'HMAC-SHA256 key of the x-bastion-signature header; "${NAME}" reads the environment.',
            ),
          })
          .optional()
          .describe('Each new pending approval is POSTed here as JSON, signed.'),
      })
      .optional(),
    pins: z
      .strictObject({
        file: z
          .string()
          .min(1)
          .describe(
            'The pins lock file (bastion-gateway pin), relative to this file; kept current by the gateway.',
          ),
      })
      .optional()
      .describe(
        'Tool pinning. Without a file, pins live in the shared store only (in memory: until a restart).',
      ),
  };
}

type Fields = ReturnType<typeof oversightConfigFields>;
type OversightDocument = { [K in keyof Fields]?: z.output<Fields[K]> };

export interface AdminAccount {
  name: string;
  tokenSha256: string;
}

export interface AdminConfig {
  /** At least one; names and token digests are distinct. */
  accounts: AdminAccount[];
  /** The gateway as people reach it, without a trailing slash. */
  url?: string;
}

export interface OversightConfig {
  /** The console's admins, when the config has any. */
  admin: AdminConfig | undefined;
  approvals: { webhook?: { url: string; secret: string } };
  /** The pins lock file (absolute), when configured. */
  pinsPath: string | undefined;
}

export interface OversightContext {
  baseDir: string;
  /** Grant labels by token digest: an admin token must never be one of them. */
  grantTokens: ReadonlyMap<string, string>;
  /** "${NAME}" expansion from the environment, reporting a missing variable at `pointer`. */
  expand(value: string, pointer: string): string;
}

function adminAccounts(admin: NonNullable<OversightDocument['admin']>, problems: Problem[]): AdminAccount[] {
  if (admin.accounts !== undefined) {
    if (admin.tokenSha256 !== undefined || admin.name !== undefined)
      problems.push({
        pointer: '/admin',
        message: '"accounts" replaces "tokenSha256" and "name": give each admin an entry in "accounts"',
      });
    return admin.accounts;
  }
  if (admin.tokenSha256 === undefined) {
    problems.push({
      pointer: '/admin',
      message:
        'needs "tokenSha256" (one admin) or "accounts" (several): bastion-gateway admin create makes a token',
    });
    return [];
  }
  return [{ name: admin.name ?? DEFAULT_ADMIN_NAME, tokenSha256: admin.tokenSha256 }];
}

function checkAccounts(
  accounts: ReadonlyArray<AdminAccount>,
  listed: boolean,
  grantTokens: ReadonlyMap<string, string>,
  problems: Problem[],
): void {
  const names = new Set<string>();
  const digests = new Set<string>();
  accounts.forEach((account, i) => {
    const at = listed ? `/admin/accounts/${i}` : '/admin';
    if (names.has(account.name))
      problems.push({ pointer: `${at}/name`, message: `another admin is named '${account.name}'` });
    if (digests.has(account.tokenSha256))
      problems.push({
        pointer: `${at}/tokenSha256`,
        message: "another admin's token: each admin needs their own",
      });
    if (grantTokens.has(account.tokenSha256))
      problems.push({
        pointer: `${at}/tokenSha256`,
        message: 'the admin token must not be a grant token (bastion-gateway admin create makes one)',
      });
    names.add(account.name);
    digests.add(account.tokenSha256);
  });
}

/** The oversight part of a parsed config document; problems are added to `problems`. */
export function resolveOversight(
  doc: OversightDocument,
  context: OversightContext,
  problems: Problem[],
): OversightConfig {
  let admin: AdminConfig | undefined;
  if (doc.admin !== undefined) {
    const accounts = adminAccounts(doc.admin, problems);
    checkAccounts(accounts, doc.admin.accounts !== undefined, context.grantTokens, problems);
    admin = {
      accounts,
      ...(doc.admin.url === undefined ? {} : { url: doc.admin.url.replace(/\/+$/, '') }),
    };
  }
  const webhook = doc.approvals?.webhook;
  return {
    admin,
    approvals:
      webhook === undefined
        ? {}
        : {
            webhook: {
              url: webhook.url,
              secret: context.expand(webhook.secret, '/approvals/webhook/secret'),
            },
          },
    pinsPath: doc.pins === undefined ? undefined : resolve(context.baseDir, doc.pins.file),
  };
}
