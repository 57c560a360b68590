/** A Postgres NoticeResponse ('N'), built here so the approval sink needs nothing from the wire adapter. */
export function noticeResponse(fields: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of Object.entries(fields)) parts.push(Buffer.from(code, "latin1"), Buffer.from(value.replace(/\0/g, "") + "\0", "utf8"));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head[0] = 0x4e;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
