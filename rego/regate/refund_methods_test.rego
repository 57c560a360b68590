# Refunds are held on every method a method-agnostic handler (a Django function view) runs them for.
package regate_test

import data.regate

test_http_refund_needs_approval_on_any_writing_method if {
	every method in ["PUT", "PATCH", "QUERY"] {
		d := regate.decision with input as http(method, "/api/refunds", {"body_size": 12})
		d.approve.reason == "refunds need approval"
	}
}

test_http_refund_needs_approval_on_a_read_with_a_body if {
	every method in ["GET", "HEAD", "OPTIONS"] {
		d := regate.decision with input as http(method, "/api/refunds", {"body_size": 12})
		d.approve.reason == "refunds need approval"
	}
}

test_http_refund_listing_without_a_body_allowed if {
	every method in ["GET", "HEAD", "OPTIONS"] {
		d := regate.decision with input as http(method, "/api/refunds", {"body_size": 0})
		d.allow
		not d.approve
	}
}

test_refund_by_id_needs_approval if {
	every path in ["/api/refunds/123", "/api/Refunds/123/confirm", "/api/orders/7/refunds"] {
		d := regate.decision with input as http("POST", path, {"body_size": 0})
		d.approve.reason == "refunds need approval"
	}
	d := regate.decision with input as http("GET", "/api/refunds/123", {"body_size": 0})
	d.allow
}
