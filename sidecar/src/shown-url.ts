// One way to show a configured URL to an operator (check-config's output, a bundle server's errors, a collector's
// log lines): such a URL may carry a credential, and each place that hid it on its own hid different parts.

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A string that starts like a URL (`scheme://`): check-config shows only these through shownUrl. */
export function looksLikeUrl(v: string): boolean {
  return URL_LIKE.test(v);
}

/**
 * A URL with its userinfo and query values replaced by [REDACTED] (host, path and query names stay: they tell
 * the operator which server is meant; a user name alone may be the token, `https://<token>@host`, which clients
 * send as a basic credential) and its fragment left out (never sent, so it names nothing, and
 * it may hold anything). A URL with none of these is shown as written. One that does not parse, or has no
 * `scheme://`, is shown by its scheme at most: where its credential would be cannot be told.
 */
export function shownUrl(v: string): string {
  // `svc:pw at host` parses (an opaque path): without `scheme://` nothing tells what part is the credential.
  const scheme = URL_LIKE.exec(v)?.[0];
  if (scheme === undefined) return "[REDACTED: not a URL]";
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `${scheme}[REDACTED: not a URL]`;
  }
  if (!url.username && !url.password && !url.search && !url.hash) return v;
  const user = url.username || url.password ? "[REDACTED]@" : "";
  const query = url.search ? `?${[...new Set(url.searchParams.keys())].map((k) => `${encodeURIComponent(k)}=[REDACTED]`).join("&")}` : "";
  return `${url.protocol}//${user}${url.host}${url.pathname}${query}`;
}
