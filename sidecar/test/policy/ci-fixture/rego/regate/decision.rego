# A sample policy repository's policy: read-only HTTP for agents of the "readers" group.
package regate

default decision := {"allow": false, "deny": ["only GET for readers"], "mask": []}

decision := {"allow": true, "deny": [], "mask": []} if {
	input.kind == "http"
	input.http.method == "GET"
	"readers" in input.session.principal.groups
}
