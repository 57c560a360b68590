// Realistic upstream bodies for the name/value pair sweep (pairs-must-allow.test.ts): what real APIs send
// with names written as data. `CLEAR` bodies name no field the sweep's rule sets mask (besides literal
// `name`, `value`, `key` in the rule sets that mask those, judged separately); `NAMED` bodies name one.

export const SSN = "607-59-5353";
export const CARD = "4111111111111111";
export const EMAIL = "alice.w@example.com";

export const CLEAR: Record<string, unknown> = {
  githubLabels: [{ id: 208045946, node_id: "MDU6TGFiZWwyMDgwNDU5NDY=", url: "https://api.github.com/repos/o/r/labels/bug", name: "bug", description: "Something isn't working", color: "f29513", default: true }],
  githubCheckRun: { id: 4, name: "mighty_readme", status: "completed", conclusion: "neutral", output: { title: "Mighty Readme report", summary: "There are 0 failures, 2 warnings, and 1 notices.", text: "You may have some misspelled words on lines 2 and 4.", annotations_count: 2 }, app: { name: "Octo App", events: ["push", "pull_request"] } },
  githubActionsInputs: { workflow_runs: [{ id: 30433642, name: "Build", event: "workflow_dispatch", inputs: { environment: "staging", logLevel: "warning", tags: "false" }, head_commit: { message: "Fix all the bugs\n\nname=value pairs in a message", author: { name: "Octo Cat" } } }] },
  stripeCharge: { object: "list", url: "/v1/charges", has_more: false, data: [{ id: "ch_3MmlLrLkdIwHu7ix0snN0B15", object: "charge", amount: 1099, metadata: { order_id: "6735", value: "gold" }, billing_details: { address: { city: null, country: "US" }, name: null }, payment_method_details: { card: { brand: "visa", last4: "4242", exp_month: 8 } } }] },
  stripeCustomFields: { id: "cs_test_a1", custom_fields: [{ key: "engraving", label: { custom: "Personalized engraving", type: "custom" }, optional: false, text: { maximum_length: null, minimum_length: null, value: "Jane" }, type: "text" }, { key: "size", dropdown: { options: [{ label: "Small", value: "s" }], value: "s" }, label: { custom: "Size", type: "custom" }, type: "dropdown" }] },
  jiraIssue: { id: "10002", key: "ED-1", fields: { summary: "Main order flow broken", customfield_10010: { self: "https://x.atlassian.net/rest/api/3/customFieldOption/10", value: "High", id: "10" }, customfield_10011: [{ value: "red", id: "1" }], labels: ["bugfix"], issuetype: { name: "Bug" } }, names: { customfield_10010: "Severity", summary: "Summary" }, changelog: { histories: [{ id: "10001", items: [{ field: "status", fieldtype: "jira", from: "10000", fromString: "To Do", to: "10001", toString: "In Progress" }, { field: "Sprint", fieldtype: "custom", fieldId: "customfield_10020", from: "", fromString: "", to: "1", toString: "Sprint 1" }] }] } },
  salesforce: { totalSize: 1, done: true, records: [{ attributes: { type: "Account", url: "/services/data/v59.0/sobjects/Account/001" }, Id: "001", Name: "Acme", Phone__c: null }] },
  hubspotDefinitions: { results: [{ name: "firstname", label: "First Name", type: "string", fieldType: "text", groupName: "contactinformation", options: [] }, { name: "lifecyclestage", label: "Lifecycle Stage", type: "enumeration", options: [{ label: "Lead", value: "lead", displayOrder: 1 }] }] },
  hubspotValues: { vid: 51, properties: [{ name: "firstname", value: "Ann" }, { name: "company", value: "Acme" }], "identity-profiles": [{ identities: [{ type: "LEAD_GUID", value: "f9d728f1" }] }] },
  k8sPod: { apiVersion: "v1", kind: "Pod", metadata: { name: "web-0", labels: { app: "web", "app.kubernetes.io/name": "web" }, annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"v1\"}\n" } }, spec: { containers: [{ name: "web", image: "nginx:1.25", env: [{ name: "PORT", value: "8080" }, { name: "DB_HOST", valueFrom: { configMapKeyRef: { name: "cfg", key: "db_host" } } }], ports: [{ name: "http", containerPort: 80, protocol: "TCP" }] }] } },
  k8sConfigMap: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "game-config" }, data: { "game.properties": "enemies=aliens\nlives=3\nsecret.code.passphrase=UUDDLRLRBABAS\n", "ui.properties": "color.good=purple\nhow.nice.to.look=fairlyNice\n" } },
  awsEc2: { Reservations: [{ Instances: [{ InstanceId: "i-1234567890abcdef0", Tags: [{ Key: "Name", Value: "web-1" }, { Key: "Owner", Value: "team-a" }], SecurityGroups: [{ GroupName: "default", GroupId: "sg-1" }] }] }], Filters: [{ Name: "instance-state-name", Values: ["running", "stopped"] }] },
  awsCloudFormation: { Stacks: [{ StackName: "app", Parameters: [{ ParameterKey: "KeyName", ParameterValue: "my-key" }, { ParameterKey: "InstanceType", ParameterValue: "t3.micro" }], Outputs: [{ OutputKey: "URL", OutputValue: "https://x" }] }] },
  slackBlocks: { ok: true, blocks: [{ type: "section", text: { type: "mrkdwn", text: "*name=value* pairs" }, fields: [{ type: "mrkdwn", text: "*Type:*\nComputer" }] }, { type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: "Approve" }, value: "click_me_123", action_id: "a" }] }] },
  openapi: { openapi: "3.1.0", paths: { "/customers": { get: { parameters: [{ name: "email", in: "query", required: false, schema: { type: "string", format: "email" }, example: "a@b.c" }] } } }, components: { schemas: { Customer: { type: "object", required: ["ssn", "email"], properties: { ssn: { type: "string", pattern: "^\\d{3}-\\d{2}-\\d{4}$" }, email: { type: "string" } } } } } },
  graphql: { data: { repository: { issues: { edges: [{ node: { title: "x", labels: { nodes: [{ name: "bug" }] } } }] } } }, extensions: { cost: { requestedQueryCost: 1 } } },
  prometheus: { status: "success", data: { resultType: "matrix", result: [{ metric: { __name__: "up", job: "prometheus", instance: "localhost:9090" }, values: [[1435781430.781, "1"], [1435781445.781, "1"]] }, { metric: { __name__: "card_number_total" }, value: [1435781451.781, "0"] }] } },
  grafana: { results: { A: { frames: [{ schema: { fields: [{ name: "time", type: "time" }, { name: "value", type: "number" }] }, data: { values: [[1700000000000, 1700000060000], [1.5, 2.5]] } }] } } },
  geojson: { type: "FeatureCollection", features: [{ type: "Feature", geometry: { type: "LineString", coordinates: [[102.0, 0.0], [103.0, 1.0]] }, properties: { name: "Dinagat Islands", prop0: "value0" } }] },
  pythonItems: { items: [["a", 1], ["session", "s-1"], ["b", [1, 2]]] },
  headerEcho: { headers: [["content-type", "application/json"], ["x-request-id", "abc-123"], ["set-cookie", "sid=1; Path=/"]], rawHeaders: ["Host", "example.com", "Accept", "*/*"] },
  urls: { next: "https://api.example.com/customers?page=2&per_page=50&sort=email", prev: null, search: "/search?q=ssn+lookup&session=abc" },
  prose: { body: "To reset, set name=admin and key=abc in the config. Values: a=b" },
  auditOther: { changelog: [{ items: [{ field: "status", from: "1", fromString: "To Do", to: "3", toString: "Done" }] }], history: [{ Field: "StageName", OldValue: "Prospecting", NewValue: "Closed Won" }], ranges: [{ field: "created_at", from: "2024-01-01", to: "2024-02-01" }] },
  compactAndTyped: { kv: [{ k: "lang", v: "en" }], labels: [{ key: "env", stringValue: "prod" }], params: [{ ParameterKey: "Env", ParameterValue: "prod" }], cognito: [{ AttributeName: "locale", AttributeValue: "en-US" }] },
  selectOptions: { options: [{ label: "Email", value: "email" }, { label: "Phone", value: "phone" }, { title: "SSN", value: "ssn" }], contact: { type: "email", enabled: true } },
  dottedOther: { "email.verified": true, "user.emailVerified": false, "ssn.count": 2, "http.method": "GET", "app.kubernetes.io/name": "web", "x.": 1, ".": 2, "a..b": 3, attributes: [{ key: "user.id", value: { stringValue: "42" } }] },
  textPairs: { next: "/items?ids=1,2,3&fields=email,name&sort=-created", wiki: "/wiki?title=Foo_(bar)&x=1", log: 'level=info msg="hello world" session="abc" user.id=42', rec: "Customer(name=Ann, id=3, emailVerified=true)", sel: "env=prod,tier=web", sql: "WHERE a=1 AND (b=2)", code: 'User.objects.create(ssn=ssn, email=email)\nif (email=="x") card_number=cardNumber' },
  pairsNoNames: { settings: [{ name: "theme", value: "dark" }, { key: "lang", value: "en" }, { field: "status", value: "open" }], kv: [{ property: "color", values: ["red"] }] },
};

/** Bodies that name a masked field (`ssn`, `email`, `card_number`) by data; the secret must not come back. */
export const NAMED: Record<string, unknown> = {
  hubspot: { vid: 51, properties: [{ name: "email", value: EMAIL }, { name: "firstname", value: "Ann" }] },
  hubspotV3History: { properties: { email: EMAIL }, propertiesWithHistory: { email: [{ value: EMAIL, timestamp: "2019-10-30T03:30:17.883Z", sourceType: "API" }] } },
  k8sEnv: { spec: { containers: [{ name: "app", env: [{ name: "SSN", value: SSN }] }] } },
  awsTags: { Tags: [{ Key: "card-number", Value: CARD }] },
  awsFilters: { Filters: [{ Name: "email", Values: [EMAIL] }] },
  jiraCustom: { fields: [{ name: "SSN", value: SSN, id: "customfield_1" }] },
  entry: { items: [["Email", EMAIL], ["x", 1]] },
  query: { next: `/c?page=2&email=${encodeURIComponent(EMAIL)}` },
};
