package azurefake

import (
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// An API created or updated with format and value imports a document: API Management turns
// each of its operations into an operation of the API. The rules mirror MicrosoftDocs
// azure-docs, articles/api-management/api-management-api-import-restrictions.md ("API
// Management during OpenAPI import", "Normalization rules for operationId", "Update an
// existing API via OpenAPI import") and the API Management team's "Important changes to
// OpenAPI import and export" (2018):
//   - an operation's resource name is its operationId, normalized (lower case, each run of
//     other characters a dash, dashes trimmed, at most 76 characters), else method and path;
//   - importing into an existing API matches operations by that name, updates the matches in
//     place, creates the rest, and deletes every existing operation the document lacks,
//     whoever declared it;
//   - a document that does not parse is refused with a ValidationError.
// Only inline OpenAPI 3 documents (openapi, openapi+json) are modelled: the program sends no
// other format.

// importedFormats are the formats the stand-in imports.
var importedFormats = []string{"openapi", "openapi+json"}

var notAlphanumeric = regexp.MustCompile(`[^a-z0-9]+`)

// operationName is the resource name API Management gives an imported operation.
func operationName(operationID, method, path string) string {
	name := operationID
	if name == "" {
		name = method + "-" + path
	}
	name = strings.Trim(notAlphanumeric.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(name) > 76 {
		name = name[:76]
	}
	return name
}

// importedOperation is one operation an import creates.
type importedOperation struct {
	name, method, urlTemplate, displayName string
}

// parseImport reads the operations of an API's inline document; ok is false when the inputs
// import nothing.
func parseImport(in map[string]any) (ops []importedOperation, ok bool, err error) {
	format, value := str(in, "format"), str(in, "value")
	if format == "" && value == "" {
		return nil, false, nil
	}
	if !slices.Contains(importedFormats, format) {
		return nil, true, azErr(400, "ValidationError", "The stand-in imports only inline OpenAPI 3 documents, not format '%s'.", format)
	}
	doc, err := openapi3.NewLoader().LoadFromData([]byte(value))
	if err != nil {
		return nil, true, azErr(400, "ValidationError", "Parsing error(s): %v", err)
	}
	if doc.Paths == nil {
		return nil, true, azErr(400, "ValidationError", "Parsing error(s): The document has no paths.")
	}
	for _, p := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(p).Operations() {
			name := operationName(op.OperationID, method, p)
			display := op.Summary
			if display == "" {
				display = op.OperationID
			}
			ops = append(ops, importedOperation{name: name, method: method, urlTemplate: p, displayName: display})
		}
	}
	return ops, true, nil
}

// applyImport makes the API's operations those of its document.
func applyImport(c *Cloud, sub, apiID string, ops []importedOperation) {
	keep := map[string]bool{}
	for _, op := range ops {
		id := apiID + "/operations/" + op.name
		keep[strings.ToLower(id)] = true
		c.Put(&Resource{ID: id, Token: "azure-native:apimanagement:ApiOperation", Subscription: sub,
			Properties: map[string]any{"name": op.name, "type": "Microsoft.ApiManagement/service/apis/operations",
				"method": op.method, "urlTemplate": op.urlTemplate, "displayName": op.displayName}})
	}
	prefix := strings.ToLower(apiID) + "/operations/"
	for _, r := range c.ByType("azure-native:apimanagement:ApiOperation") {
		if id := strings.ToLower(r.ID); strings.HasPrefix(id, prefix) && !keep[id] {
			c.Delete(r.ID)
		}
	}
}

// Operations lists an API's operations as "METHOD /template", sorted.
func (c *Cloud) Operations(apiID string) []string {
	var out []string
	prefix := strings.ToLower(apiID) + "/operations/"
	for _, r := range c.ByType("azure-native:apimanagement:ApiOperation") {
		if strings.HasPrefix(strings.ToLower(r.ID), prefix) {
			method, _ := r.Properties["method"].(string)
			tmpl, _ := r.Properties["urlTemplate"].(string)
			out = append(out, method+" "+tmpl)
		}
	}
	slices.Sort(out)
	return out
}
