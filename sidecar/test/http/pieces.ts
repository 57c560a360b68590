// An upstream's body written in pieces a little apart, so that regate reads each in a read of its own: a
// credential or a line break cut where the test chooses.

import type { ServerResponse } from "node:http";

/** Writes each piece `gapMs` after the last, then ends the response. */
export function writePieces(res: ServerResponse, pieces: readonly (string | Buffer)[], gapMs = 3): void {
  const next = (k: number): void => {
    if (k >= pieces.length) {
      res.end();
      return;
    }
    res.write(pieces[k]);
    setTimeout(() => next(k + 1), gapMs);
  };
  next(0);
}
