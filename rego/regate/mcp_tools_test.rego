package regate_test

import data.regate

a_times(n) := concat("", [a | some _ in numbers.range(1, n); a := "a"])

mcp_call(tool) := http("POST", "/mcp", {"mcp": {"method": "tools/call", "tool": tool, "arguments": {}}})

# Spellings a lenient server looks up as delete_customer (case folded, `-` for `_`, camelCase) are denied.
test_mcp_tool_spellings_of_a_denied_tool_denied if {
	every tool in ["delete_customer", "Delete_customer", "DELETE_CUSTOMER", "delete-customer", "deleteCustomer", "_delete_customer", ".delete.customer", "Purge-All", "DropTable"] {
		d := regate.decision with input as mcp_call(tool)
		concat("", ["MCP tool ", tool, " is not allowed"]) in d.deny
		not d.allow
	}
}

# Spaces around, fullwidth letters (NFKC folds them to ASCII), a zero-width space, a NUL: not plain names.
test_mcp_tool_names_that_are_not_plain_denied if {
	every tool in [" delete_customer", "delete_customer ", "delete_customer\n", "ｄｅｌｅｔｅ_customer", "dele\u200bte_customer", "delete_customer\u0000", "délete", "lookup customer", "", a_times(129)] {
		d := regate.decision with input as mcp_call(tool)
		concat("", ["MCP tool name ", json.marshal(tool), " is not a plain name (A-Z, a-z, 0-9, _, -, ., /)"]) in d.deny
		not d.allow
	}
}

test_mcp_batch_tool_spelling_denied if {
	batch := [{"method": "tools/call", "tool": "lookup", "arguments": {}}, {"method": "tools/call", "tool": "Purge_All", "arguments": {}}]
	d := regate.decision with input as http("POST", "/mcp", {"mcp_batch": batch})
	"MCP tool Purge_All is not allowed" in d.deny
}

# Names real servers expose: mixed case, dots, dashes, slashes, digits, the full 128 characters.
test_mcp_plain_tool_names_allowed if {
	every tool in ["lookup_customer", "getCustomer", "GetWeather", "search.docs", "github/list-issues", "v2.lookup_customer", "Z", a_times(128)] {
		d := regate.decision with input as mcp_call(tool)
		d.allow
		count(d.deny) == 0
	}
}

# Only tools/call names a tool: a prompt or a notification is not judged by these rules.
test_mcp_other_methods_not_judged_as_tools if {
	d := regate.decision with input as http("POST", "/mcp", {"mcp": {"method": "prompts/get", "prompt": "Delete Everything"}})
	d.allow
}

test_mcp_tool_key_folds_case_and_separators if {
	regate.mcp_tool_key("Delete-Customer") == "deletecustomer"
	regate.mcp_tool_key("delete.customer/v2") == "deletecustomerv2"
	regate.mcp_tool_key("deleteCustomer") == regate.mcp_tool_key("delete_customer")
}
