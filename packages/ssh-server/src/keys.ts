/**
 * Named keys an agent can send to a PTY shell, as the bytes an xterm-compatible terminal sends for
 * them (normal cursor mode, which readline, bash, sudo and most REPLs read). Control keys are the
 * ASCII control codes the terminal's line discipline turns into signals (ctrl-c: SIGINT, ctrl-z:
 * SIGTSTP, ctrl-\: SIGQUIT) or end of input (ctrl-d).
 */
const letters = Object.fromEntries(
  Array.from({ length: 26 }, (_, i) => [`ctrl-${String.fromCharCode(97 + i)}`, String.fromCharCode(i + 1)]),
);

export const KEY_SEQUENCES: Readonly<Record<string, string>> = {
  enter: '\r',
  tab: '\t',
  backspace: '\x7f',
  escape: '\x1b',
  space: ' ',
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  home: '\x1b[H',
  end: '\x1b[F',
  insert: '\x1b[2~',
  delete: '\x1b[3~',
  pageup: '\x1b[5~',
  pagedown: '\x1b[6~',
  f1: '\x1bOP',
  f2: '\x1bOQ',
  f3: '\x1bOR',
  f4: '\x1bOS',
  f5: '\x1b[15~',
  f6: '\x1b[17~',
  f7: '\x1b[18~',
  f8: '\x1b[19~',
  f9: '\x1b[20~',
  f10: '\x1b[21~',
  f11: '\x1b[23~',
  f12: '\x1b[24~',
  ...letters,
  'ctrl-\\': '\x1c',
  'ctrl-]': '\x1d',
};

export const KEY_NAMES = Object.keys(KEY_SEQUENCES) as [string, ...string[]];

/** The bytes of `text` followed by those of each key, in order. */
export function inputBytes(text: string | undefined, keys: ReadonlyArray<string> = []): Buffer {
  const parts = [text ?? ''];
  for (const key of keys) {
    const sequence = KEY_SEQUENCES[key];
    if (sequence === undefined) throw new RangeError(`unknown key '${key}'`);
    parts.push(sequence);
  }
  return Buffer.from(parts.join(''), 'utf8');
}
