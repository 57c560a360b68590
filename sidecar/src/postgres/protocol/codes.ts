// PostgreSQL v3 protocol constants. Frontend and backend type bytes collide ('D' is Describe and
// DataRow), so each direction has its own table.

export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

/** PostgreSQL's own cap for startup packets (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_BYTES = 10_000;

export const Frontend = {
  Bind: 0x42, // B
  Close: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Describe: 0x44, // D
  Execute: 0x45, // E
  Flush: 0x48, // H
  FunctionCall: 0x46, // F
  Parse: 0x50, // P
  Password: 0x70, // p (also SASLInitialResponse, SASLResponse, GSSResponse)
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
} as const;

export const Backend = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  CommandComplete: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  DataRow: 0x44, // D
  EmptyQueryResponse: 0x49, // I
  ErrorResponse: 0x45, // E
  FunctionCallResponse: 0x56, // V
  NegotiateProtocolVersion: 0x76, // v
  NoData: 0x6e, // n
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  ParameterDescription: 0x74, // t
  ParameterStatus: 0x53, // S
  ParseComplete: 0x31, // 1
  PortalSuspended: 0x73, // s
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
} as const;

export const Auth = {
  Ok: 0,
  CleartextPassword: 3,
  MD5Password: 5,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** Text-like types whose binary send format is the raw UTF-8 bytes. */
export const TEXT_OID = 25;
export const TEXTLIKE_OIDS: ReadonlySet<number> = new Set([25, 1043, 1042, 19, 705]);

/**
 * Scalar types whose text form is a number, a truth value, a time, an address or an id, never free text:
 * bool, int2/4/8, oid, float4/8, money, numeric, date, time, timestamp(tz), interval, timetz, uuid, inet,
 * cidr, macaddr(8), pg_lsn. Every other type can hold text: json, jsonb, xml, arrays, records, composites.
 */
export const NON_TEXT_SCALAR_OIDS: ReadonlySet<number> = new Set([16, 20, 21, 23, 26, 700, 701, 790, 1700, 1082, 1083, 1114, 1184, 1186, 1266, 2950, 869, 650, 829, 774, 3220]);

export const TransactionStatus = { Idle: 0x49, InBlock: 0x54, Failed: 0x45 } as const; // I T E
