# Server settings that hold secrets. An upstream role that is a superuser or a member of pg_read_all_settings
# (pg_monitor includes it: a common grant for monitoring) reads every setting, and some carry credentials: a
# standby's primary_conninfo holds the replication password (`host=primary user=rep password=...`), the
# archive and recovery commands and ssl_passphrase_command are shell commands that often embed a key or a
# password. Reading one by name (SHOW, current_setting), every one at once (SHOW ALL), or one whose name is
# known only when the statement runs is refused; so is reading the values of the views and functions that
# list settings with their values. Names, units and descriptions stay readable.
package regate

secret_settings := {
	"primary_conninfo", "archive_command", "archive_cleanup_command", "restore_command",
	"recovery_end_command", "ssl_passphrase_command",
}

# Names that say what they hold, in core or in an extension's or application's own settings
# (app.jwt_secret, anon.salt, a conninfo). password_encryption (libpq reads it to hash a new password) and
# md5_password_warnings name a policy, not a password.
secret_name_pattern := `passw|pwd|secret|token|credential|conninfo|passphrase|salt|api_?key|access_?key|private_?key`

not_secret_settings := {"password_encryption", "md5_password_warnings"}

secret_setting(name) if name in secret_settings

secret_setting(name) if {
	regex.match(secret_name_pattern, name)
	not name in not_secret_settings
}

deny contains msg if {
	some s in statements
	some name in s.settings_read
	name != "*"
	secret_setting(name)
	msg := concat("", ["reading the server setting ", name, " is not allowed: its value can hold passwords or commands with credentials"])
}

deny contains "reading every server setting, or one whose name is not a constant, is not allowed: some hold passwords or commands with credentials" if {
	some s in statements
	"*" in s.settings_read
}

# Views that list settings with their values, and the columns that hold them: pg_hba_file_rules' options hold
# ldapbindpasswd and radiussecrets; per-role and per-database settings (ALTER ROLE ... SET app.jwt_secret, the
# way PostgREST once kept its key) are in pg_db_role_setting, pg_roles, pg_user and pg_shadow, which PUBLIC may
# read. "*" is a whole row or an unexpanded star. A role's names and flags stay readable (psql's \du).
settings_value_columns := {
	"pg_settings": {"setting", "reset_val", "boot_val", "*"},
	"pg_file_settings": {"setting", "*"},
	"pg_hba_file_rules": {"options", "*"},
	"pg_db_role_setting": {"setconfig", "*"},
	"pg_roles": {"rolconfig", "*"},
	"pg_user": {"useconfig", "*"},
	"pg_shadow": {"useconfig", "*"},
}

# The functions behind them: their rows are values, whichever column is taken.
settings_value_functions := {"pg_show_all_settings", "pg_show_all_file_settings", "pg_hba_file_rules"}

deny contains msg if {
	some s in statements
	some c in s.columns
	c.schema in {"pg_catalog", null}
	c.column in settings_value_columns[c.table]
	msg := concat("", ["reading ", c.table, ".", c.column, " is not allowed: setting values can hold passwords or commands with credentials"])
}

deny contains msg if {
	some s in statements
	some f in s.functions
	f.name in settings_value_functions
	msg := concat("", ["function ", f.name, " lists setting values, which can hold passwords or commands with credentials; it is not allowed"])
}

next_steps contains "read an ordinary setting by its name (SHOW search_path, current_setting('TimeZone')), or list pg_settings without its value columns (SELECT name, unit, short_desc FROM pg_settings); settings that hold connection strings or commands are never readable through regate" if {
	some r in deny
	contains(r, "passwords or commands with credentials")
}

# Password hashes. An upstream role that may read pg_authid (a superuser, as in a development setup) reads
# every role's rolpassword, pg_shadow's passwd the same: an md5 hash logs in as its role by itself (md5
# authentication answers the challenge from it), and a SCRAM verifier's keys let a server be impersonated.
# pg_roles shows rolpassword as ******** and stays readable.
password_hash_columns := {
	"pg_authid": {"rolpassword", "*"},
	"pg_shadow": {"passwd", "*"},
}

deny contains msg if {
	some s in statements
	some c in s.columns
	c.schema in {"pg_catalog", null}
	c.column in password_hash_columns[c.table]
	msg := concat("", ["reading ", c.table, ".", c.column, " is not allowed: it holds password hashes, and an md5 hash logs in as its role"])
}

next_steps contains "list roles from pg_roles (SELECT rolname, rolsuper, rolcanlogin FROM pg_roles), whose rolpassword is always ********; password hashes are never readable through regate" if {
	some r in deny
	contains(r, "it holds password hashes")
}
