/**
 * A path as it may appear in a one-line error: JSON-quoted when it holds control characters, as a
 * path read from a key reference may, so that it cannot break the line or rewrite the terminal.
 * @example shownPath('/tmp/a\nb') // '"/tmp/a\\nb"'
 */
export function shownPath(path: string): string {
  return /[\u0000-\u001f\u007f]/.test(path) ? JSON.stringify(path) : path;
}
