// What a byte means to the JSON piece reader (leak-json.ts), inside a string and between pieces: tables
// indexed by the byte, so that its loops look one up instead of comparing.

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;

/** The bytes that end a run of a string's text: a quote, a backslash, a raw line break. */
export const IN_STRING_STOP = [0x22, 0x5c, 0x0a, 0x0d] as const;

/** In a string: 0 content, 1 the closing quote, 2 a backslash, 3 a raw line break. */
export const IN_STRING = new Uint8Array(256);
IN_STRING[0x22] = 1;
IN_STRING[0x5c] = 2;
IN_STRING[0x0a] = IN_STRING[0x0d] = 3;

/** Outside a string: 1 whitespace, 2 the start of a piece, 3 structure, 0 anything else (a literal word). */
export const OUTSIDE = new Uint8Array(256);
export const PIECE = 2;
export const STRUCTURE = 3;
for (const c of [0x20, 0x09, 0x0a, 0x0d]) OUTSIDE[c] = 1;
for (const c of '"-0123456789') OUTSIDE[c.charCodeAt(0)] = PIECE;
for (const c of "{}[],:") OUTSIDE[c.charCodeAt(0)] = STRUCTURE;

export const NUMBER_BYTE = new Uint8Array(256);
for (const c of "0123456789+-.eE") NUMBER_BYTE[c.charCodeAt(0)] = 1;
