// Server settings that hold secrets, through regate with the example policy, judged by the bytes the agent got.
// An upstream role in pg_read_all_settings (pg_monitor grants it; monitoring roles often have it) read a
// standby's primary_conninfo with its replication password, and restore_command with the key it embeds, by
// SHOW, current_setting(), pg_settings, pg_show_all_settings(), SHOW ALL and pg_file_settings. Each form is
// refused now; ordinary settings, and the names in pg_settings, stay readable.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attemptOn, connectClient } from "../support/attempt.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { startRegate, type TestRegate } from "../support/regate.js";

let db: TestPostgres;
let regate: TestRegate;
let agent: pg.Client;

const REPLICATION_PASSWORD = "Rep1icaPassw0rdXq";
const ARCHIVE_KEY = "Arch1veKeyZz93";
const JWT_SECRET = "JwtS3cretVv17";
const ROLE_TOKEN = "R0leTok3nPp52";
const SECRETS = [REPLICATION_PASSWORD, ARCHIVE_KEY, JWT_SECRET, ROLE_TOKEN];

beforeAll(async () => {
  db = await startPostgres({
    settings: {
      primary_conninfo: `host=replica.internal user=rep password=${REPLICATION_PASSWORD}`,
      restore_command: `AWS_SECRET_ACCESS_KEY=${ARCHIVE_KEY} aws s3 cp s3://wal/%f %p`,
      "app.jwt_secret": JWT_SECRET,
    },
  });
  await db.query(`GRANT pg_read_all_settings TO ${db.users.scram.user}`);
  // A per-role setting, as an application keeps its API key: PUBLIC may read pg_db_role_setting and pg_roles.
  await db.query("CREATE ROLE reporting");
  await db.query(`ALTER ROLE reporting SET app.api_token = '${ROLE_TOKEN}'`);
  // Views someone else defined: what they read, the agent reads through them.
  await db.query("CREATE VIEW public.server_conf AS SELECT name, setting FROM pg_catalog.pg_settings");
  await db.query("CREATE VIEW public.standby_conf AS SELECT pg_catalog.current_setting('primary_conninfo') AS conninfo");
  await db.query(`GRANT SELECT ON public.server_conf, public.standby_conf TO ${db.users.scram.user}`);
  regate = await startRegate(db);
  agent = await connectClient(regate.url());
}, 120_000);

afterAll(async () => {
  await agent?.end().catch(() => undefined);
  await regate?.stop();
  await db?.stop();
});

describe("settings that hold secrets", () => {
  it("the upstream role reads them directly", async () => {
    const direct = await connectClient(db.url("app_scram"));
    try {
      expect(JSON.stringify((await direct.query("SELECT rolconfig FROM pg_roles WHERE rolname = 'reporting'")).rows)).toContain(ROLE_TOKEN);
      const r = await direct.query("SELECT current_setting('primary_conninfo') AS c, current_setting('restore_command') AS a, current_setting('app.jwt_secret') AS j");
      expect(r.rows[0]).toMatchObject({ c: expect.stringContaining(REPLICATION_PASSWORD), a: expect.stringContaining(ARCHIVE_KEY), j: JWT_SECRET });
    } finally {
      await direct.end();
    }
  });

  const refused: [string, string | pg.QueryConfig][] = [
    ["SHOW", "SHOW primary_conninfo"],
    ["SHOW, quoted in another case", 'SHOW "PRIMARY_CONNINFO"'],
    ["current_setting", "SELECT current_setting('primary_conninfo')"],
    ["current_setting, missing_ok", "SELECT current_setting('restore_command', true)"],
    ["current_setting of archive_command", "SELECT current_setting('archive_command')"],
    ["current_setting, qualified and cast", "SELECT pg_catalog.current_setting('Primary_Conninfo'::text)"],
    ["current_setting of a custom secret", "SELECT current_setting('app.jwt_secret')"],
    ["current_setting, name computed", "SELECT current_setting('primary_' || 'conninfo')"],
    ["current_setting, name cut by a cast", "SELECT current_setting('primary_conninfo_x'::varchar(16))"],
    ["current_setting, name as a parameter", { text: "SELECT current_setting($1)", values: ["primary_conninfo"] }],
    ["current_setting, name from pg_settings", "SELECT current_setting(name) FROM pg_settings WHERE name = 'primary_conninfo'"],
    ["current_setting into set_config", "SELECT set_config('application_name', current_setting('primary_conninfo'), false)"],
    ["pg_settings.setting", "SELECT setting FROM pg_settings WHERE name = 'primary_conninfo'"],
    ["pg_settings, star", "SELECT * FROM pg_catalog.pg_settings WHERE name = 'restore_command'"],
    ["pg_settings, whole row", "SELECT row_to_json(s) FROM pg_settings s WHERE name = 'primary_conninfo'"],
    ["pg_settings, column aliases", "SELECT x FROM pg_settings AS p(n, x) WHERE n = 'primary_conninfo'"],
    ["pg_settings, reset_val", "SELECT reset_val FROM pg_settings WHERE name = 'primary_conninfo'"],
    ["pg_settings, as an oracle in WHERE", `SELECT name FROM pg_settings WHERE setting LIKE '%password=${REPLICATION_PASSWORD.slice(0, 3)}%'`],
    ["pg_settings through COPY", "COPY (SELECT setting FROM pg_settings WHERE name = 'primary_conninfo') TO STDOUT"],
    ["pg_show_all_settings()", "SELECT * FROM pg_show_all_settings()"],
    ["pg_show_all_settings(), names only", "SELECT name FROM pg_catalog.pg_show_all_settings() WHERE setting LIKE '%password%'"],
    ["SHOW ALL", "SHOW ALL"],
    ["pg_file_settings", "SELECT * FROM pg_file_settings"],
    ["pg_file_settings.setting", "SELECT setting FROM pg_file_settings WHERE name = 'restore_command'"],
    ["pg_show_all_file_settings()", "SELECT * FROM pg_show_all_file_settings()"],
    ["a view over pg_settings", "SELECT setting FROM public.server_conf WHERE name = 'primary_conninfo'"],
    ["a view reading the setting", "SELECT conninfo FROM public.standby_conf"],
    ["PREPARE", "PREPARE leak AS SELECT current_setting('primary_conninfo')"],
    ["pg_db_role_setting", "SELECT setconfig FROM pg_db_role_setting"],
    ["pg_roles.rolconfig", "SELECT rolname, rolconfig FROM pg_roles WHERE rolname = 'reporting'"],
    ["pg_roles, star", "SELECT * FROM pg_catalog.pg_roles WHERE rolname = 'reporting'"],
    ["pg_user.useconfig", "SELECT useconfig FROM pg_user"],
  ];

  it.each(refused)("%s is refused, and no secret reaches the agent", async (_label, sql) => {
    const r = await attemptOn(agent, sql);
    expect(r.code, JSON.stringify(r)).toBe("42501");
    expect(r.message).toMatch(/passwords or commands with credentials/);
    expect(r.message).toContain("read an ordinary setting by its name");
    for (const secret of SECRETS) expect(JSON.stringify(r)).not.toContain(secret);
  });

  it("a cursor over a secret setting is refused", async () => {
    await agent.query("BEGIN");
    const r = await attemptOn(agent, "DECLARE c CURSOR FOR SELECT current_setting('primary_conninfo')");
    expect(r.code).toBe("42501");
    for (const secret of SECRETS) expect(JSON.stringify(r)).not.toContain(secret);
  });

  const allowed: [string, string, unknown][] = [
    ["SHOW search_path", "SHOW search_path", [{ search_path: '"$user", public' }]],
    ["SHOW server_version", "SHOW server_version", [{ server_version: expect.stringMatching(/^\d+/) }]],
    ["current_setting('TimeZone')", "SELECT current_setting('TimeZone') IS NOT NULL AS ok", [{ ok: true }]],
    ["SHOW password_encryption (libpq's \\password)", "SHOW password_encryption", [{ password_encryption: "scram-sha-256" }]],
    ["SHOW primary_slot_name", "SHOW primary_slot_name", [{ primary_slot_name: "" }]],
    ["names and descriptions in pg_settings", "SELECT name, unit, source FROM pg_settings WHERE name IN ('primary_conninfo', 'work_mem') ORDER BY name", [
      { name: "primary_conninfo", unit: null, source: "configuration file" },
      { name: "work_mem", unit: "kB", source: "default" },
    ]],
    ["a role's names and flags (psql's \\du)", "SELECT r.rolname, r.rolsuper, r.rolcanlogin FROM pg_catalog.pg_roles r WHERE r.rolname = 'reporting'", [
      { rolname: "reporting", rolsuper: false, rolcanlogin: false },
    ]],
  ];

  it.each(allowed)("must stay allowed: %s", async (_label, sql, rows) => {
    const r = await attemptOn(agent, sql);
    expect(r.code, r.message).toBeUndefined();
    expect(r.rows).toEqual(rows);
  });
});

// Password hashes: an upstream role that may read pg_authid (a superuser) reads every role's rolpassword, and an
// md5 hash logs in as its role. The example policy refuses the columns before the server is asked.
describe("password hashes", () => {
  it.each([
    ["pg_authid.rolpassword", "SELECT rolname, rolpassword FROM pg_authid"],
    ["pg_authid, star", "SELECT * FROM pg_catalog.pg_authid"],
    ["pg_authid, whole row", "SELECT to_jsonb(a) FROM pg_authid a"],
    ["pg_authid as an oracle in WHERE", "SELECT rolname FROM pg_authid WHERE rolpassword LIKE 'md5a%'"],
    ["pg_shadow.passwd", "SELECT usename, passwd FROM pg_shadow"],
  ])("%s is refused by the policy, with the next step", async (_label, sql) => {
    const r = await attemptOn(agent, sql);
    expect(r.code, JSON.stringify(r)).toBe("42501");
    expect(r.message).toMatch(/holds password hashes/);
    expect(r.message).toContain("password hashes are never readable through regate");
  });
});
