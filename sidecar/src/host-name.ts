/** The host name of a Host header or URL authority, lowercased, without port or IPv6 brackets. */
export function hostName(host: string | undefined): string {
  if (!host) return "";
  const h = host.toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end > 0 ? h.slice(1, end) : h;
  }
  const colon = h.indexOf(":");
  return colon >= 0 ? h.slice(0, colon) : h;
}

/**
 * A Host header or URL authority that is a host and an optional port, nothing else (RFC 9110 4.2.4: userinfo
 * in an http URI is an error). Routes match hostName's reading, which stops at the first ":", while the policy
 * reads the whole value: "admin.example:1@evil" matched admin.example's route and told the policy another host.
 */
export function isHostAuthority(host: string): boolean {
  return /^(?:\[[0-9a-f:.]+\]|[a-z0-9._~-]+)(?::[0-9]{0,5})?$/i.test(host);
}
