package regate_golden_test

import data.regate

# testdata/golden/opa/cases.json, loaded as data by `opa test rego/ testdata/golden/opa/`.
# The TypeScript suite checks the same cases against the compiled WASM bundle.

outcome(d) := "deny" if {
	count(d.deny) > 0
} else := "deny" if {
	not d.allow
} else := "approve" if {
	d.approve
} else := "allow"

failures contains sprintf("%s: outcome %s, want %s (%v)", [c.name, outcome(d), c.expect.outcome, d.deny]) if {
	some c in data.golden_cases
	d := regate.decision with input as c.input
	outcome(d) != c.expect.outcome
}

failures contains sprintf("%s: reasons %v lack %q", [c.name, d.deny, c.expect.reason]) if {
	some c in data.golden_cases
	c.expect.reason
	c.expect.outcome == "deny"
	d := regate.decision with input as c.input
	not c.expect.reason in d.deny
}

# expect.masks is the whole mask list: the same rules (column or field, and strategy), none more, none twice.
failures contains sprintf("%s: masks %v, want %v", [c.name, d.mask, c.expect.masks]) if {
	some c in data.golden_cases
	c.expect.masks
	d := regate.decision with input as c.input
	not same_masks(d.mask, c.expect.masks)
}

# expect.approve: each field given must be in the decision's approve object with that value.
failures contains sprintf("%s: approve.%s is %v, want %v", [c.name, k, object.get(d, ["approve", k], null), v]) if {
	some c in data.golden_cases
	c.expect.approve
	d := regate.decision with input as c.input
	some k, v in c.expect.approve
	object.get(d, ["approve", k], null) != v
}

same_masks(got, want) if {
	count(got) == count(want)
	{m | some m in got} == {m | some m in want}
}

test_golden_cases if {
	count(data.golden_cases) > 0
	print(failures)
	count(failures) == 0
}
