package regate_test

import data.regate

test_replication_slot_and_origin_functions_denied if {
	every name in [
		"pg_logical_slot_peek_changes", "pg_logical_slot_get_changes", "pg_logical_slot_peek_binary_changes",
		"pg_logical_slot_get_binary_changes", "pg_replication_slot_advance", "pg_copy_logical_replication_slot",
		"pg_copy_physical_replication_slot", "pg_sync_replication_slots", "pg_replication_origin_advance",
		"pg_replication_origin_session_setup",
	] {
		d := regate.decision with input as pg([stmt({"functions": [fn(name, "volatile", [])]})])
		not d.allow
		concat("", ["function ", name, " reads or moves a replication slot or origin, whose changes carry every table's unmasked values; it is not allowed"]) in d.deny
	}
}

# Slot names and positions are metadata: psql's and monitoring's reads of them stay allowed.
test_replication_slot_metadata_allowed if {
	every name in ["pg_get_replication_slots", "pg_stat_get_replication_slot"] {
		d := regate.decision with input as pg([stmt({"functions": [fn(name, "stable", [])]})])
		d.allow
	}
}
