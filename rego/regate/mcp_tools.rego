# MCP tool rules of the example policy.
# A server may look a tool up leniently: case folded (a dict keyed by name.lower()), trimmed, Unicode
# compatibility-normalised (NFKC reads ｄｅｌｅｔｅ as delete), `-` read as `_`, or camelCase as snake_case.
# A rule on the name as sent would let `Delete_customer`, ` delete_customer` or `deleteCustomer` run
# delete_customer. So tool names are matched by mcp_tool_key, and a name that is not plain (the MCP spec's
# A-Z a-z 0-9 _ - . plus `/`, 1 to 128 characters) is refused: only such names fold to one key.
package regate

# MCP: tools that destroy data are not for agents.
deny contains msg if {
	some call in mcp_tool_calls
	mcp_plain_tool_name(call.tool)
	some prefix in {"delete", "drop", "purge"}
	startswith(mcp_tool_key(call.tool), prefix)
	msg := concat("", ["MCP tool ", call.tool, " is not allowed"])
}

deny contains msg if {
	some call in mcp_tool_calls
	not mcp_plain_tool_name(call.tool)
	msg := concat("", ["MCP tool name ", json.marshal(call.tool), " is not a plain name (A-Z, a-z, 0-9, _, -, ., /)"])
}

mcp_tool_calls contains call if {
	some call in mcp_calls
	call.method == "tools/call"
	call.tool
}

mcp_plain_tool_name(name) if regex.match(`^[A-Za-z0-9_./-]{1,128}$`, name)

# The name as the most lenient lookup reads it: lower case, separators dropped, so `Delete-Customer`,
# `delete.customer` and `deleteCustomer` are all `deletecustomer`. Deny and hold rules match on this; a
# rule that lets a tool through should match the exact name (call.tool), so it widens nothing.
mcp_tool_key(name) := strings.replace_n({"_": "", ".": "", "/": "", "-": ""}, lower(name))
