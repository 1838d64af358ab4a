package azurefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// QueryAccess is Azure RBAC for the Log Analytics query API, as the cloud's role assignments
// decide it, for callers other than the deploying identity (Telemetry.Token, taken as Owner). A
// query in a workspace needs, at the workspace or above:
//   - Microsoft.OperationalInsights/workspaces/query/read, to run a query at all;
//   - Microsoft.OperationalInsights/workspaces/query/<table>/read for each table the query
//     reads, which workspaces/query/*/read, */read (Reader, Contributor) and * cover too
//     (MicrosoftDocs azure-monitor-docs, logs/manage-access.md, "Workspace permissions": "Query
//     logs by using any interface", "Access all log types by using queries", "Access a specific
//     log table - legacy method"; logs/manage-table-access.md, "Configure table-level access
//     (legacy method)", and its Considerations: "The standard Reader or Contributor roles, which
//     include the */read action, override table-level access control").
//
// A refusal is the query API's 403 InsufficientAccessError, "The provided credentials have
// insufficient access to perform the requested operation", as Azure's SDK troubleshooting guides
// quote it (Azure/azure-sdk-for-js#21136, Azure/azure-sdk-for-net#37173). Whether Log Analytics
// answers a query naming a table outside the role with that 403, or as a query that cannot
// resolve the table, only Azure can confirm; the stand-in takes the 403.
//
// What it does not model: resource-context queries and their Microsoft.Insights/logs/<table>/read
// actions, granular RBAC's data action and conditions (workspaces/tables/data/read), protected
// tables, and the minutes a new assignment takes to apply.
type QueryAccess struct {
	// Store is the cloud whose workspaces, roles and assignments decide.
	Store *Store
	// Principals maps the other bearer tokens the API accepts to the principal (object id) each
	// was issued to.
	Principals map[string]string
}

// queryReadAction is the right to run a query in a workspace.
const queryReadAction = "Microsoft.OperationalInsights/workspaces/query/read"

// tableReadAction is the right to read one table of a workspace in a query.
func tableReadAction(table string) string {
	return "Microsoft.OperationalInsights/workspaces/query/" + table + "/read"
}

// authorize decides principal's query of tables in the workspace whose customer id is
// workspace: nil when allowed; else the status and the query API's error to answer.
func (a *QueryAccess) authorize(principal, workspace string, tables []string) (int, error) {
	c, err := a.Store.Load()
	if err != nil {
		return http.StatusInternalServerError, err
	}
	var wsID string
	for _, r := range c.ByType("azure-native:operationalinsights:Workspace") {
		if id, _ := r.Properties["customerId"].(string); strings.EqualFold(id, workspace) {
			wsID = r.ID
		}
	}
	if wsID == "" {
		return http.StatusNotFound, fmt.Errorf("WorkspaceNotFoundError: Workspace %s not found", workspace)
	}
	actions := []string{queryReadAction}
	for _, t := range tables {
		actions = append(actions, tableReadAction(t))
	}
	for _, action := range actions {
		if authorize(c, principal, action, wsID) != nil {
			return http.StatusForbidden, fmt.Errorf("InsufficientAccessError: The provided credentials have insufficient access to perform the requested operation (principal %s lacks %s on %s)", principal, action, wsID)
		}
	}
	return 0, nil
}

// queryTables are the tables a query reads: its tabular source (the name it starts with), and
// the operands of union, join and lookup. The stand-in's KQL (kql.go) evaluates only queries
// over AppRequests; the tables are found first, so that a query reading another table is
// decided by the caller's rights before it is refused as outside the subset.
func queryTables(query string) ([]string, error) {
	toks, err := tokenize(query)
	if err != nil {
		return nil, err
	}
	if toks[0].kind != tName {
		return nil, fmt.Errorf("the query must start with a table")
	}
	tables := []string{toks[0].text}
	add := func(t string) {
		if !slices.Contains(tables, t) {
			tables = append(tables, t)
		}
	}
	for i := 1; i < len(toks); i++ {
		switch toks[i].text {
		case "union":
			// union [kind=... withsource=...] T1, T2, ...: the names up to the next pipe that
			// are not an option's name or value.
			for j := i + 1; j < len(toks) && toks[j].kind != tEnd && toks[j].text != "|"; j++ {
				switch {
				case toks[j].kind != tName:
				case j+1 < len(toks) && toks[j+1].text == "=":
					j += 2 // an option and its value
				default:
					add(toks[j].text)
				}
			}
		case "join", "lookup":
			// join [kind=...] (T | ...) on ..., or join T on ...: the first name that is not
			// an option.
			for j := i + 1; j < len(toks) && toks[j].kind != tEnd; j++ {
				if toks[j].kind == tName && !(j+1 < len(toks) && toks[j+1].text == "=") && toks[j-1].text != "=" {
					add(toks[j].text)
					break
				}
			}
		}
	}
	return tables, nil
}

// queryError answers a query API error with its code and message.
func queryError(w http.ResponseWriter, status int, err error) {
	code, msg, ok := strings.Cut(err.Error(), ": ")
	if !ok {
		code, msg = "InternalServerError", err.Error()
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	_, _ = w.Write(b)
}
