/**
 * Other spellings of a tool name that a gateway must not take for the name itself: case variants,
 * Unicode look-alikes (Cyrillic and Greek letters that render like Latin ones, fullwidth forms),
 * invisible characters and surrounding spaces. Each one is another name (POLICY.md matches names
 * exactly); a gateway that folds or normalises them hands a denied or limited tool to whoever asks.
 */

const LOOKALIKES: Record<string, string> = {
  a: '\u0430', // Cyrillic а
  c: '\u0441', // Cyrillic с
  e: '\u0435', // Cyrillic е
  o: '\u043e', // Cyrillic о
  p: '\u0440', // Cyrillic р
  x: '\u0445', // Cyrillic х
  i: '\u0456', // Cyrillic і
  s: '\u0455', // Cyrillic ѕ
  T: '\u03a4', // Greek Τ
  M: '\u039c', // Greek Μ
  C: '\u0421', // Cyrillic С
};

function swapFirstCase(name: string): string {
  const first = name[0] ?? '';
  const swapped = first === first.toUpperCase() ? first.toLowerCase() : first.toUpperCase();
  return swapped + name.slice(1);
}

function lookalike(name: string): string | undefined {
  for (let i = name.length - 1; i >= 0; i--) {
    const sub = LOOKALIKES[name[i] ?? ''];
    if (sub !== undefined) return name.slice(0, i) + sub + name.slice(i + 1);
  }
  return undefined;
}

function fullwidthFirst(name: string): string | undefined {
  const code = name.charCodeAt(0);
  // ASCII '!'..'~' have fullwidth forms at U+FF01..U+FF5E; NFKC folds them back to ASCII.
  if (code < 0x21 || code > 0x7e) return undefined;
  return String.fromCharCode(code - 0x21 + 0xff01) + name.slice(1);
}

/** The variants of `name` to try, each with what it is; never `name` itself. */
export function nameVariants(name: string): Array<{ name: string; kind: string }> {
  const candidates: Array<{ name: string | undefined; kind: string }> = [
    { name: name.toUpperCase(), kind: 'upper case' },
    { name: name.toLowerCase(), kind: 'lower case' },
    { name: swapFirstCase(name), kind: 'first letter case swapped' },
    { name: lookalike(name), kind: 'Unicode look-alike letter' },
    { name: fullwidthFirst(name), kind: 'fullwidth first letter' },
    { name: `${name}\u200b`, kind: 'zero-width space appended' },
    { name: `${name.slice(0, 1)}\u200d${name.slice(1)}`, kind: 'zero-width joiner inside' },
    { name: `${name} `, kind: 'trailing space' },
    { name: ` ${name}`, kind: 'leading space' },
  ];
  const seen = new Set<string>([name]);
  const variants: Array<{ name: string; kind: string }> = [];
  for (const c of candidates) {
    if (c.name === undefined || seen.has(c.name)) continue;
    seen.add(c.name);
    variants.push({ name: c.name, kind: c.kind });
  }
  return variants;
}
