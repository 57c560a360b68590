// JSON as Python writes it. json.dumps writes a float it cannot hold in JSON as NaN, Infinity or -Infinity
// (allow_nan is on by default: Flask's jsonify, Django's JsonResponse, a document saved with json.dumps and
// served in a string field), and Python's json reads them back. JSON.parse refuses them, so a masker that
// asks only JSON.parse would refuse a whole such answer, and, worse, take such a document inside a string
// for plain text, where field rules cannot find its `ssn`.

/** JSON.parse, also taking NaN, Infinity and -Infinity where a value starts; throws SyntaxError otherwise. */
export function parseJsonOrPython(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const plain = pythonConstantsAsZero(text);
    if (plain === undefined) throw err;
    return JSON.parse(plain);
  }
}

const CONSTANTS = ["-Infinity", "Infinity", "NaN"];

/**
 * `text` with each of Python's constants that stands where a value starts (outside strings, after `[`, `:`,
 * `,` or at the start) written as a `0` padded to its length, so offsets are kept; undefined when none is.
 * One glued to other characters (`1NaN`, `NaNx`) is left, and JSON.parse refuses it.
 */
function pythonConstantsAsZero(text: string): string | undefined {
  const parts: string[] = [];
  let last = 0;
  let inString = false;
  let valueMayStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (valueMayStart) {
      const word = CONSTANTS.find((w) => text.startsWith(w, i));
      if (word) {
        parts.push(text.slice(last, i), "0".padEnd(word.length, " "));
        i += word.length - 1;
        last = i + 1;
        valueMayStart = false;
        continue;
      }
    }
    if (c === 0x22) inString = true;
    valueMayStart = c === 0x5b || c === 0x3a || c === 0x2c;
  }
  return parts.length === 0 ? undefined : parts.join("") + text.slice(last);
}
