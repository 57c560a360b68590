package regate_test

import data.regate

reader := {"principal": {"groups": ["readers"]}}

test_get_by_reader_allowed if {
	regate.decision.allow with input as {"kind": "http", "http": {"method": "GET"}, "session": reader}
}

test_post_denied if {
	not regate.decision.allow with input as {"kind": "http", "http": {"method": "POST"}, "session": reader}
}
