import type { SessionHooks } from "../postgres/index.js";

/** Both sets of hooks, `first`'s before `second`'s; `hold` from `second` when it has one, else `first`. */
export function composeHooks(first: SessionHooks, second: SessionHooks | undefined): SessionHooks {
  if (!second) return first;
  const out: SessionHooks = {
    admit: (s, st, d) => first.admit?.(s, st, d) ?? second.admit?.(s, st, d),
    decided: (s, st, d) => {
      first.decided?.(s, st, d);
      second.decided?.(s, st, d);
    },
    completed: (s, st) => {
      first.completed?.(s, st);
      second.completed?.(s, st);
    },
    ended: (s, reason) => {
      first.ended?.(s, reason);
      second.ended?.(s, reason);
    },
    cancelled: (s, st) => {
      first.cancelled?.(s, st);
      second.cancelled?.(s, st);
    },
  };
  // Only when one side wants rows: an undefined `row` keeps the per-row path free of any call.
  if (first.row || second.row) {
    out.row = (s, st, row) => {
      first.row?.(s, st, row);
      second.row?.(s, st, row);
    };
  }
  const hold = second.hold ?? first.hold;
  if (hold) out.hold = hold;
  const ownApprovals = second.ownApprovals ?? first.ownApprovals;
  if (ownApprovals) out.ownApprovals = ownApprovals;
  return out;
}
