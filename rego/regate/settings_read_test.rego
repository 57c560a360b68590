# Server settings that hold secrets: read by name, all at once, or through the views that list values.
package regate_test

import data.regate

reads(names) := stmt({"kind": "show", "node": "VariableShowStmt", "settings_read": names})

settings_denied(s) if {
	d := regate.decision with input as pg([s])
	not d.allow
	contains(d.next_step, "read an ordinary setting by its name")
}

test_secret_settings_by_name_denied if {
	every name in ["primary_conninfo", "archive_command", "archive_cleanup_command", "restore_command", "recovery_end_command", "ssl_passphrase_command", "app.jwt_secret", "anon.salt"] {
		settings_denied(reads([name]))
	}
	d := regate.decision with input as pg([reads(["primary_conninfo"])])
	"reading the server setting primary_conninfo is not allowed: its value can hold passwords or commands with credentials" in d.deny
}

test_every_or_unnamed_setting_denied if {
	settings_denied(reads(["*"]))
	settings_denied(stmt({"settings_read": ["timezone", "*"]}))
}

test_ordinary_settings_allowed if {
	d := regate.decision with input as pg([reads(["search_path", "server_version", "timezone", "password_encryption", "standard_conforming_strings", "primary_slot_name"])])
	d.allow
}

settings_view(tbl, cols) := stmt({
	"tables": [table("pg_catalog", tbl, "read")],
	"columns": [column("pg_catalog", tbl, c) | some c in cols],
})

test_setting_values_of_catalog_views_denied if {
	settings_denied(settings_view("pg_settings", ["name", "setting"]))
	settings_denied(settings_view("pg_settings", ["reset_val"]))
	settings_denied(settings_view("pg_settings", ["boot_val"]))
	settings_denied(settings_view("pg_settings", ["*"]))
	settings_denied(settings_view("pg_file_settings", ["setting"]))
	settings_denied(settings_view("pg_hba_file_rules", ["options"]))
	settings_denied(settings_view("pg_db_role_setting", ["setconfig"]))
	settings_denied(settings_view("pg_roles", ["rolname", "rolconfig"]))
	settings_denied(settings_view("pg_user", ["useconfig"]))
	unresolved := stmt({"columns": [column(null, "pg_settings", "setting")]})
	settings_denied(unresolved)
}

test_setting_names_allowed if {
	d := regate.decision with input as pg([settings_view("pg_settings", ["name", "unit", "short_desc", "source"])])
	d.allow
	roles := regate.decision with input as pg([settings_view("pg_roles", ["rolname", "rolsuper", "rolcanlogin"])])
	roles.allow
}

test_user_table_of_the_same_name_allowed if {
	d := regate.decision with input as pg([stmt({"tables": [table("public", "pg_settings", "read")], "columns": [column("public", "pg_settings", "setting")]})])
	d.allow
}

test_setting_listing_functions_denied if {
	every name in ["pg_show_all_settings", "pg_show_all_file_settings", "pg_hba_file_rules"] {
		settings_denied(stmt({"functions": [{"schema": null, "name": name, "inputs": [], "inputs_unknown": false}]}))
	}
}

hashes_denied(s) if {
	d := regate.decision with input as pg([s])
	not d.allow
	contains(d.next_step, "password hashes are never readable through regate")
}

test_password_hashes_denied if {
	hashes_denied(settings_view("pg_authid", ["rolname", "rolpassword"]))
	hashes_denied(settings_view("pg_authid", ["*"]))
	hashes_denied(settings_view("pg_shadow", ["usename", "passwd"]))
	hashes_denied(stmt({"columns": [column(null, "pg_authid", "rolpassword")]}))
	d := regate.decision with input as pg([settings_view("pg_authid", ["rolpassword"])])
	"reading pg_authid.rolpassword is not allowed: it holds password hashes, and an md5 hash logs in as its role" in d.deny
}

test_role_names_of_pg_authid_allowed if {
	d := regate.decision with input as pg([settings_view("pg_authid", ["rolname", "rolsuper"])])
	d.allow
	own := regate.decision with input as pg([stmt({"tables": [table("public", "pg_authid", "read")], "columns": [column("public", "pg_authid", "rolpassword")]})])
	own.allow
}
